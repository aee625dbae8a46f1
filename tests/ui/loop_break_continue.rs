use matgrad::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let mut y = x;
    for i in 0..10 {
        if i == 3 {
            continue;
        }
        if i == 5 {
            break;
        }
        y = y * 2.0;
    }
    loop {
        y = y + 1.0;
    }
}

fn main() {}
