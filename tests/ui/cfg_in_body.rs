use matgrad::differentiate;

// The macro cannot evaluate `#[cfg]`: a configured-out statement would still be differentiated.
#[differentiate]
fn f(x: f64, m: u8) -> f64 {
    let mut y = x * 2.0;
    #[cfg(any())]
    {
        y *= 100.0;
    }
    match m {
        #[cfg(test)]
        0 => y * 3.0,
        _ => y,
    }
}

fn main() {}
