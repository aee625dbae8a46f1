use matgrad::differentiate;

// `break 'label value` out of a labelled block (not a loop).
#[differentiate]
fn f(x: f64) -> f64 {
    let y = 'found: {
        if x > 1.0 {
            break 'found x * 2.0;
        }
        x
    };
    y
}

fn main() {}
