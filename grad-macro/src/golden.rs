//! Golden expansion tests: the expansion of a few functions, pretty-printed and compared with
//! files checked in under `tests/expand/` (bless with `MATGRAD_BLESS=1`).

use std::path::PathBuf;

fn expand_pretty(item: proc_macro2::TokenStream, args: proc_macro2::TokenStream) -> String {
    let tokens = crate::expand::differentiate(args, item);
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(e) => panic!("expansion does not parse: {e}\n{tokens}"),
    }
}

fn golden(name: &str, item: proc_macro2::TokenStream, args: proc_macro2::TokenStream) {
    let got = expand_pretty(item, args);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/expand").join(format!("{name}.rs"));
    if std::env::var_os("MATGRAD_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(got == want, "expansion of `{name}` changed (bless with MATGRAD_BLESS=1):\n{got}");
}

#[test]
fn network() {
    golden(
        "network",
        quote::quote! {
            fn loss(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
                let z = x * w;
                let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
                (a - y).norm_squared()
            }
        },
        quote::quote!(wrt(w)),
    );
}

#[test]
fn recurrence() {
    golden(
        "recurrence",
        quote::quote! {
            fn rnn(w: &DMatrix<f64>, u: &DMatrix<f64>, h0: &DVector<f64>, xs: &DMatrix<f64>, steps: usize) -> f64 {
                let mut h = h0.clone();
                for k in 0..steps {
                    h = (w * &h + u * xs.column(k)).map(|v| v.tanh());
                }
                h.norm_squared()
            }
        },
        quote::quote!(wrt(w, u, h0)),
    );
}

#[test]
fn nested() {
    golden(
        "nested",
        quote::quote! {
            fn nested(x: &DMatrix<f64>, s: f64) -> f64 {
                let mut acc = 0.0;
                for i in 0..x.nrows() {
                    let weight = (i + 1) as f64;
                    for j in 0..x.ncols() {
                        let v = x[(i, j)];
                        acc += weight * v * v * s;
                    }
                }
                acc
            }
        },
        quote::quote!(),
    );
}

/// `examples/gaussian.rs`: one Cholesky factorization read by two rules; the factored matrix
/// is moved into `cholesky()` (nothing reads it afterwards), never cloned.
#[test]
fn gaussian() {
    golden(
        "gaussian",
        quote::quote! {
            fn nll(a: &DMatrix<f64>, c: &DMatrix<f64>, eps: &DMatrix<f64>) -> f64 {
                let s = a * a.transpose() + eps;
                let chol = s.cholesky().expect("S = AAᵀ + εI is positive definite");
                chol.ln_determinant() + chol.solve(c).trace()
            }
        },
        quote::quote!(wrt(a)),
    );
}

#[test]
fn mlp() {
    golden(
        "mlp",
        quote::quote! {
            fn mlp(w1: &DMatrix<f64>, b1: &RowDVector<f64>, w2: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
                let ones = DVector::from_element(x.nrows(), 1.0);
                let h = (x * w1 + &ones * b1).map(|v| v.tanh());
                (h * w2 - y).norm_squared()
            }
        },
        quote::quote!(wrt(w1, b1, w2)),
    );
}

/// The benchmarks' fixed-size pose residual: no allocation, the sum's terms borrow its adjoint.
#[test]
fn pose() {
    golden(
        "pose",
        quote::quote! {
            fn pose(r: &SMatrix<f64, 3, 3>, t: &SVector<f64, 3>, p: &SMatrix<f64, 3, 8>, q: &SMatrix<f64, 3, 8>) -> f64 {
                let ones = SMatrix::<f64, 1, 8>::from_element(1.0);
                (r * p + t * ones - q).norm_squared()
            }
        },
        quote::quote!(wrt(r, t)),
    );
}

/// The benchmarks' perceptron, biases added with the broadcast helper.
#[test]
fn perceptron() {
    golden(
        "perceptron",
        quote::quote! {
            fn mlp(w1: &DMatrix<f64>, b1: &RowDVector<f64>, w2: &DMatrix<f64>, b2: &RowDVector<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
                let h = matgrad::add_row_vector(x * w1, b1).map(|v| v.tanh());
                let out = matgrad::add_row_vector(h * w2, b2);
                (out - y).norm_squared()
            }
        },
        quote::quote!(wrt(w1, b1, w2, b2)),
    );
}

/// A branch on a computed value inside a loop: the arm that ran is kept in an enum.
#[test]
fn branch() {
    golden(
        "branch",
        quote::quote! {
            fn huber(x: &DVector<f64>, y: &DVector<f64>, delta: f64) -> f64 {
                let mut total = 0.0;
                for i in 0..x.len() {
                    let r = x[i] - y[i];
                    if r.abs() <= delta {
                        total += 0.5 * r * r;
                    } else {
                        total += delta * (r.abs() - 0.5 * delta);
                    }
                }
                total
            }
        },
        quote::quote!(wrt(x)),
    );
}

#[test]
fn rotation() {
    golden(
        "rotation",
        quote::quote! {
            fn fit(theta: f64, p: &Vector2<f64>, q: &Vector2<f64>) -> f64 {
                let c = theta.cos();
                let s = theta.sin();
                let mut r = Matrix2::new(c, -s, s, c);
                r[(1, 1)] += 0.5 * s;
                (r * p - q).norm_squared()
            }
        },
        quote::quote!(wrt(theta)),
    );
}
