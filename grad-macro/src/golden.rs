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

/// The benchmarks' Gaussian as users write it, through the inverse: the trace of the product
/// contributes s̄ Cᵀ and s̄ S⁻ᵀ without forming s̄ I, and `ln_determinant` reads the same inverse.
#[test]
fn gaussian_inverse() {
    golden(
        "gaussian_inverse",
        quote::quote! {
            fn gaussian(s: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
                let chol = s.clone().cholesky().expect("S is SPD");
                let s_inv = chol.inverse();
                chol.ln_determinant() + (s_inv * c).trace()
            }
        },
        quote::quote!(wrt(s)),
    );
}

/// The benchmarks' Gaussian through a solve: one inverse serves the solve's adjoint and
/// `ln_determinant`'s.
#[test]
fn gaussian_solve() {
    golden(
        "gaussian_solve",
        quote::quote! {
            fn gaussian_solve(s: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
                let chol = s.clone().cholesky().expect("S is SPD");
                chol.ln_determinant() + chol.solve(c).trace()
            }
        },
        quote::quote!(wrt(s)),
    );
}

/// The benchmarks' pose residual as a loop over the points: a fixed tape of residuals.
#[test]
fn pose_loop() {
    golden(
        "pose_loop",
        quote::quote! {
            fn pose_loop(r: &SMatrix<f64, 3, 3>, t: &SVector<f64, 3>, p: &SMatrix<f64, 3, 8>, q: &SMatrix<f64, 3, 8>) -> f64 {
                let mut total = 0.0;
                for i in 0..8 {
                    total += (r * p.column(i) + t - q.column(i)).norm_squared();
                }
                total
            }
        },
        quote::quote!(wrt(r, t)),
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
fn guard_clause() {
    golden(
        "guard",
        quote::quote! {
            fn capped(x: &DMatrix<f64>, w: &DMatrix<f64>, cap: f64) -> f64 {
                let r = (x * w).norm_squared();
                if r > cap {
                    return (cap * r).sqrt();
                }
                r
            }
        },
        quote::quote!(wrt(w)),
    );
}

#[test]
fn early_exit() {
    golden(
        "early_exit",
        quote::quote! {
            fn budgeted(x: &DVector<f64>, budget: f64) -> f64 {
                let mut cost = 0.0;
                for k in 0..x.len() {
                    cost += x[k] * x[k];
                    if cost > budget {
                        return cost;
                    }
                }
                cost
            }
        },
        quote::quote!(wrt(x)),
    );
}

/// The rustdoc of a generated `_grad` holds the derivation (the golden text of
/// `tests/derivation/network.txt`), and `_derivation()` returns the same text.
#[test]
fn grad_docs_hold_the_derivation() {
    let item = quote::quote! {
        fn loss(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
            let z = x * w;
            let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
            (a - y).norm_squared()
        }
    };
    let file: syn::File = syn::parse2(crate::expand::differentiate(quote::quote!(wrt(w)), item)).unwrap();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/derivation/network.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let doc_of = |name: &str| -> String {
        let f = file.items.iter().find_map(|i| match i {
            syn::Item::Fn(f) if f.sig.ident == name => Some(f),
            _ => None,
        });
        let attrs = &f.unwrap_or_else(|| panic!("no `{name}`")).attrs;
        let docs = attrs.iter().filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        });
        docs.collect()
    };
    assert!(text.contains("∂f/∂w = xᵀ (2(a − y) ⊙ g′(z))"));
    for name in ["loss_grad", "loss_vjp", "loss_derivation"] {
        assert!(doc_of(name).contains(&text), "the docs of `{name}` lack the derivation");
    }
    let body = file.items.iter().find_map(|i| match i {
        syn::Item::Fn(f) if f.sig.ident == "loss_derivation" => Some(quote::ToTokens::to_token_stream(&f.block)),
        _ => None,
    });
    let lit = syn::LitStr::new(&text, proc_macro2::Span::call_site());
    assert_eq!(body.unwrap().to_string(), quote::quote!({ #lit }).to_string());
}

#[test]
fn struct_param() {
    golden(
        "struct_param",
        quote::quote! {
            fn loss(p: &Mlp, x: &DMatrix<f64>) -> f64 {
                let mut acc = 0.0;
                for _ in 0..p.steps {
                    acc += (x * &p.w1).norm_squared();
                }
                acc + p.enc.gain * p.b1.sum()
            }
        },
        quote::quote!(wrt(p)),
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

/// Forward mode of the network: `_jvp` (the tangent program printed as forward code), `_hvp`
/// (its reverse pass), `_tangent` and `_tangent_pullback`.
#[test]
fn forward_network() {
    golden(
        "forward_network",
        quote::quote! {
            fn loss(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
                let z = x * w;
                let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
                (a - y).norm_squared()
            }
        },
        quote::quote!(wrt(w), forward),
    );
}
