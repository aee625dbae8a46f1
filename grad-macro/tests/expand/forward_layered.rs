// Forward mode with `map`s in a loop body and a branch arm: each map and its tangent run as one
// pass (`map_pair` in `_jvp`, `map_pair_d2` in `_hvp`, whose stored partials go on the tapes).
#[differentiate(wrt(w), forward)]
fn layered(w: &DMatrix<f64>, h0: &DMatrix<f64>, steps: usize) -> f64 {
    let mut h = h0.clone();
    for _ in 0..steps {
        h = (w * &h).map(|v| v.tanh());
        if h.sum() > 0.0 {
            h = h.map(|v| v * v + v.sin());
        }
    }
    h.norm_squared()
}
