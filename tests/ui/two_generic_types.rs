use matgrad::differentiate;
use nalgebra::RealField;

#[differentiate]
fn f<T: RealField + Copy, U: Copy>(x: T, _u: U) -> T {
    x * x
}

fn main() {}
