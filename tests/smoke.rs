use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate(wrt(w))]
fn loss(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let z = x * w;
    let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
    (a - y).norm_squared()
}

#[test]
fn smoke() {
    let x = DMatrix::from_fn(5, 3, |i, j| (i as f64 - j as f64) * 0.3);
    let w = DMatrix::from_fn(3, 2, |i, j| 0.1 * (i + 2 * j) as f64);
    let y = DMatrix::from_element(5, 2, 0.5);
    let (value, dw) = loss_grad(&w, &x, &y);
    assert_eq!(value, loss(&w, &x, &y));
    let check = matgrad::check_gradient(|w: &DMatrix<f64>| loss(w, &x, &y), &w, &dw, 1e-6, 1e-7);
    assert!(check.ok, "{check:?}");
}
