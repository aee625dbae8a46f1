use matgrad::differentiate;

struct Model;

impl Model {
    #[differentiate]
    fn f(&self, x: f64) -> f64 {
        x * x
    }
}

fn main() {}
