use matgrad::Differentiable;

#[derive(Clone, Differentiable)]
struct Settings {
    #[differentiable(skip)]
    rate: f64,
}

fn main() {}
