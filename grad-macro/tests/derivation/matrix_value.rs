// A matrix-valued function (a `_vjp`, no `_grad`), a scalar scaling a matrix, a `match`, and a
// call to another `#[differentiate]` function inside a `map` closure.
#[differentiate(wrt(a, s))]
fn layer(a: &DMatrix<f64>, s: f64, mode: u8) -> DMatrix<f64> {
    let b = match mode {
        0 => a * s,
        _ => a.transpose() * a,
    };
    b.map(|v| softplus(v) + v.max(0.0))
}
