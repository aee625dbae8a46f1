//! Fields of the elements of a collection field: a model written as `Vec<Layer>` with
//! `struct Layer { w, b, … }`, read as `layer.w` in `for layer in &p.layers`, as
//! `p.layers[k].w`, nested (`blk.enc.w`), in every position (the body, a branch arm, a loop, nested
//! loops, a `map` closure's captured scalar, a nested block), f64 and f32, dynamic and static
//! sizes, reverse and forward mode. Each gradient is checked against its closed form and against
//! central differences through `to_flat`/`from_flat`.

mod common;

use common::{assert_close_flat, numeric_flat};
use matgrad::{differentiate, Differentiable};
use nalgebra::{DMatrix, DVector, SMatrix, SVector};

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Layer {
    pub w: DMatrix<f64>,
    pub b: DVector<f64>,
    pub s: f64,
    #[differentiable(skip)]
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Net {
    pub layers: Vec<Layer>,
}

/// Layers of shapes 3×4, 2×3 and 1×2 (a 1×n edge), each with its bias and scale.
fn net() -> Net {
    let layer = |r: usize, c: usize, k: usize| Layer {
        w: DMatrix::from_fn(r, c, |i, j| ((i * 5 + j * 3 + k) % 7) as f64 * 0.25 - 0.7),
        b: DVector::from_fn(r, |i, _| 0.1 * (i + k) as f64 - 0.15),
        s: 0.5 + 0.3 * k as f64,
        name: format!("layer {k}"),
    };
    Net { layers: vec![layer(3, 4, 0), layer(2, 3, 1), layer(1, 2, 2)] }
}

fn x4() -> DVector<f64> {
    DVector::from_vec(vec![0.4, -1.1, 0.7, 0.2])
}

// ---------------------------------------------------------------- a loop over the layers

/// f(p) = Σₖ sₖ ‖Wₖ x + bₖ‖², each layer reading the same x's first columns: with
/// rₖ = Wₖ x₍ₖ₎ + bₖ, W̄ₖ = 2sₖ rₖ x₍ₖ₎ᵀ, b̄ₖ = 2sₖ rₖ, s̄ₖ = ‖rₖ‖² (forward mode too, below).
#[differentiate(wrt(p), forward)]
fn scaled_residuals(p: &Net, x: &DVector<f64>) -> f64 {
    let mut total = 0.0;
    for layer in &p.layers {
        let xk = x.rows(0, layer.w.ncols());
        let r = &layer.w * xk + &layer.b;
        total += layer.s * r.norm_squared();
    }
    total
}

fn scaled_residuals_closed_form(p: &Net, x: &DVector<f64>) -> Net {
    let mut g = p.clone();
    for (l, gl) in p.layers.iter().zip(g.layers.iter_mut()) {
        let xk = x.rows(0, l.w.ncols()).clone_owned();
        let r = &l.w * &xk + &l.b;
        gl.w = 2.0 * l.s * &r * xk.transpose();
        gl.b = 2.0 * l.s * &r;
        gl.s = r.norm_squared();
    }
    g
}

#[test]
fn a_loop_over_the_layers() {
    let (p, x) = (net(), x4());
    let (value, g) = scaled_residuals_grad(&p, &x);
    assert_eq!(value, scaled_residuals(&p, &x));
    let want = scaled_residuals_closed_form(&p, &x);
    assert_close_flat(&g.to_flat(), &want.to_flat(), 1e-12);
    assert_close_flat(&g.to_flat(), &numeric_flat(|p| scaled_residuals(p, &x), &p), 1e-7);
    // the skipped field keeps the value
    assert_eq!(g.layers[1].name, "layer 1");
}

/// The network the way users write it: h ← tanh(Wₖ h + bₖ) through the layers, then
/// f = ‖h − y‖². Checked against backpropagation written out by hand.
#[differentiate(wrt(p))]
fn tanh_net(p: &Net, x: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let mut h = x.clone();
    for layer in p.layers.iter() {
        h = (&layer.w * h + &layer.b).map(|v| v.tanh());
    }
    (h - y).norm_squared()
}

fn tanh_net_by_hand(p: &Net, x: &DVector<f64>, y: &DVector<f64>) -> Net {
    let mut hs = vec![x.clone()];
    for l in &p.layers {
        let h = (&l.w * hs.last().unwrap() + &l.b).map(|v| v.tanh());
        hs.push(h);
    }
    let mut g = p.clone();
    let mut dh = 2.0 * (hs.last().unwrap() - y);
    for k in (0..p.layers.len()).rev() {
        // h_{k+1} = tanh(z), z̄ = h̄ ⊙ (1 − h²)
        let dz = dh.component_mul(&hs[k + 1].map(|v| 1.0 - v * v));
        g.layers[k].w = &dz * hs[k].transpose();
        g.layers[k].b = dz.clone();
        g.layers[k].s = 0.0;
        dh = p.layers[k].w.transpose() * dz;
    }
    g
}

#[test]
fn a_network_of_layers() {
    // the last layer has 1 row: y is 1×1
    let (p, x, y) = (net(), x4(), DVector::from_vec(vec![0.3]));
    let p = Net { layers: vec![p.layers[0].clone(), p.layers[1].clone(), p.layers[2].clone()] };
    let (value, g) = tanh_net_grad(&p, &x, &y);
    assert_eq!(value, tanh_net(&p, &x, &y));
    assert_close_flat(&g.to_flat(), &tanh_net_by_hand(&p, &x, &y).to_flat(), 1e-12);
    assert_close_flat(&g.to_flat(), &numeric_flat(|p| tanh_net(p, &x, &y), &p), 1e-7);
}

// ---------------------------------------------------------------- the body, an arm, a block

/// Indexed in the body, in an arm and in a nested block:
/// f(p) = ‖W₀ x‖² + (s₁ ⟨1, b₁⟩ if s₁ > 0, else ‖b₁‖²) + { ‖W₂‖² }:
/// W̄₀ = 2 (W₀ x) xᵀ, b̄₁ = s₁ 1 and s̄₁ = ⟨1, b₁⟩ (or 2 b₁), W̄₂ = 2 W₂.
#[differentiate(wrt(p))]
fn indexed(p: &Net, x: &DVector<f64>) -> f64 {
    let first = (&p.layers[0].w * x).norm_squared();
    let second = if p.layers[1].s > 0.0 { p.layers[1].s * p.layers[1].b.sum() } else { p.layers[1].b.norm_squared() };
    let third = {
        let w = &p.layers[2].w;
        w.norm_squared()
    };
    first + second + third
}

#[test]
fn in_the_body_an_arm_and_a_block() {
    let x = x4();
    for s1 in [0.8, -0.4] {
        let mut p = net();
        p.layers[1].s = s1;
        let (value, g) = indexed_grad(&p, &x);
        assert_eq!(value, indexed(&p, &x));
        let mut want = p.clone();
        for l in &mut want.layers {
            l.w.fill(0.0);
            l.b.fill(0.0);
            l.s = 0.0;
        }
        let r = &p.layers[0].w * &x;
        want.layers[0].w = 2.0 * r * x.transpose();
        if s1 > 0.0 {
            want.layers[1].b = DVector::from_element(2, s1);
            want.layers[1].s = p.layers[1].b.sum();
        } else {
            want.layers[1].b = 2.0 * &p.layers[1].b;
        }
        want.layers[2].w = 2.0 * &p.layers[2].w;
        assert_close_flat(&g.to_flat(), &want.to_flat(), 1e-12);
        assert_close_flat(&g.to_flat(), &numeric_flat(|p| indexed(p, &x), &p), 1e-7);
    }
}

// ---------------------------------------------------------------- nested loops, a closure

/// Entries in nested loops, and a scalar field captured by a `map` closure once bound:
/// f(p) = Σₖ Σᵢⱼ (Wₖ)ᵢⱼ xⱼ · sₖ + Σₖ ⟨1, exp(sₖ bₖ)⟩:
/// (W̄ₖ)ᵢⱼ = xⱼ sₖ, s̄ₖ = Σᵢⱼ (Wₖ)ᵢⱼ xⱼ + ⟨bₖ, exp(sₖ bₖ)⟩, b̄ₖ = sₖ exp(sₖ bₖ).
#[differentiate(wrt(p))]
fn entries(p: &Net, x: &DVector<f64>) -> f64 {
    let mut total = 0.0;
    for layer in &p.layers {
        for i in 0..layer.w.nrows() {
            for j in 0..layer.w.ncols() {
                total += layer.w[(i, j)] * x[j] * layer.s;
            }
        }
        let s = layer.s;
        total += layer.b.map(|v| (s * v).exp()).sum();
    }
    total
}

#[test]
fn in_nested_loops_and_a_closure() {
    let (p, x) = (net(), x4());
    let (value, g) = entries_grad(&p, &x);
    assert_eq!(value, entries(&p, &x));
    let mut want = p.clone();
    for (l, gl) in p.layers.iter().zip(want.layers.iter_mut()) {
        let xk = x.rows(0, l.w.ncols());
        gl.w = DMatrix::from_fn(l.w.nrows(), l.w.ncols(), |_, j| xk[j] * l.s);
        let e = l.b.map(|v| (l.s * v).exp());
        gl.s = (&l.w * xk).sum() + l.b.dot(&e);
        gl.b = l.s * e;
    }
    assert_close_flat(&g.to_flat(), &want.to_flat(), 1e-12);
    assert_close_flat(&g.to_flat(), &numeric_flat(|p| entries(p, &x), &p), 1e-7);
}

// ---------------------------------------------------------------- nested structs

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Block {
    pub enc: Layer,
    pub gain: f64,
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Stack {
    pub blocks: Vec<Block>,
}

/// A field of a field of an element: f(p) = Σₖ gₖ ‖Eₖ x + cₖ‖² with Eₖ = blocks[k].enc.w,
/// cₖ = blocks[k].enc.b: Ēₖ = 2gₖ rₖ xᵀ, c̄ₖ = 2gₖ rₖ, ḡₖ = ‖rₖ‖².
#[differentiate(wrt(p))]
fn stacked(p: &Stack, x: &DVector<f64>) -> f64 {
    let mut total = 0.0;
    for blk in &p.blocks {
        let r = &blk.enc.w * x + &blk.enc.b;
        total += blk.gain * r.norm_squared();
    }
    total
}

#[test]
fn fields_of_nested_structs() {
    let layers = net().layers;
    let p = Stack {
        blocks: vec![
            Block { enc: layers[0].clone(), gain: 0.6 },
            Block { enc: Layer { w: layers[0].w.scale(-0.5), ..layers[1].clone() }, gain: 1.3 },
        ],
    };
    // both encoders take x of 4 entries: the second has 2 rows of 4 (its own bias has 2 rows)
    let p = Stack {
        blocks: vec![
            p.blocks[0].clone(),
            Block {
                enc: Layer { w: p.blocks[1].enc.w.rows(0, 2).clone_owned(), ..p.blocks[1].enc.clone() },
                gain: 1.3,
            },
        ],
    };
    let x = x4();
    let (value, g) = stacked_grad(&p, &x);
    assert_eq!(value, stacked(&p, &x));
    let mut want = p.clone();
    for (b, gb) in p.blocks.iter().zip(want.blocks.iter_mut()) {
        let r = &b.enc.w * &x + &b.enc.b;
        gb.enc.w = 2.0 * b.gain * &r * x.transpose();
        gb.enc.b = 2.0 * b.gain * &r;
        gb.enc.s = 0.0;
        gb.gain = r.norm_squared();
    }
    assert_close_flat(&g.to_flat(), &want.to_flat(), 1e-12);
    assert_close_flat(&g.to_flat(), &numeric_flat(|p| stacked(p, &x), &p), 1e-7);
}

// ---------------------------------------------------------------- f32, fixed sizes, an array

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Cell {
    pub w: SMatrix<f32, 2, 3>,
    pub b: SVector<f32, 2>,
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Cells {
    pub cells: [Cell; 2],
}

/// f(p) = Σₖ ‖Wₖ x + bₖ‖² in f32 over an array of fixed-size cells:
/// W̄ₖ = 2 rₖ xᵀ, b̄ₖ = 2 rₖ.
#[differentiate(wrt(p))]
fn cells(p: &Cells, x: &SVector<f32, 3>) -> f32 {
    let mut total = 0.0;
    for c in &p.cells {
        total += (c.w * x + c.b).norm_squared();
    }
    total
}

#[test]
fn f32_fixed_size_cells() {
    let cell = |k: f32| Cell {
        w: SMatrix::<f32, 2, 3>::from_fn(|i, j| (i as f32 - j as f32) * 0.3 + k),
        b: SVector::<f32, 2>::new(0.1 * k, -0.2),
    };
    let p = Cells { cells: [cell(0.1), cell(-0.4)] };
    let x = SVector::<f32, 3>::new(0.5, -0.25, 1.0);
    let (value, g) = cells_grad(&p, &x);
    assert_eq!(value, cells(&p, &x));
    for (c, gc) in p.cells.iter().zip(&g.cells) {
        let r = c.w * x + c.b;
        assert!((gc.w - 2.0 * r * x.transpose()).abs().max() < 1e-5);
        assert!((gc.b - 2.0 * r).abs().max() < 1e-5);
    }
    // central differences in f64 on the same formula, entry (1, 2) of the second cell
    let f = |e: f64| {
        let (w, b) = (p.cells[1].w.map(f64::from), p.cells[1].b.map(f64::from));
        let mut w = w;
        w[(1, 2)] = e;
        let x = x.map(f64::from);
        (p.cells[0].w.map(f64::from) * x + p.cells[0].b.map(f64::from)).norm_squared() + (w * x + b).norm_squared()
    };
    let e = f64::from(p.cells[1].w[(1, 2)]);
    let fd = (f(e + 1e-6) - f(e - 1e-6)) / 2e-6;
    assert!((f64::from(g.cells[1].w[(1, 2)]) - fd).abs() < 1e-4);
}

// ---------------------------------------------------------------- forward mode, H·v

#[test]
fn tangents_and_hessian_vector_products() {
    let (p, x) = (net(), x4());
    let mut v = p.clone();
    for (k, l) in v.layers.iter_mut().enumerate() {
        l.w = l.w.map(|e| 0.5 * e + 0.1 * k as f64);
        l.b = l.b.map(|e| e - 0.2);
        l.s = 0.3 - 0.1 * k as f64;
    }
    let grad = scaled_residuals_closed_form(&p, &x);
    let (value, tangent) = scaled_residuals_jvp(&p, &x, &v);
    assert_eq!(value, scaled_residuals(&p, &x));
    let want: f64 = grad.to_flat().iter().zip(v.to_flat()).map(|(a, b)| a * b).sum();
    assert!((tangent - want).abs() <= 1e-12 * want.abs().max(1.0), "{tangent} vs {want}");
    // H V by central differences of the closed-form gradient along V
    let (_, g, hv) = scaled_residuals_hvp(&p, &x, &v);
    assert_close_flat(&g.to_flat(), &grad.to_flat(), 1e-12);
    let along = |t: f64| {
        let q = p.from_flat(&p.to_flat().iter().zip(v.to_flat()).map(|(a, b)| a + t * b).collect::<Vec<_>>());
        scaled_residuals_closed_form(&q, &x).to_flat()
    };
    let (plus, minus) = (along(1e-5), along(-1e-5));
    let fd: Vec<f64> = plus.iter().zip(&minus).map(|(a, b)| (a - b) / 2e-5).collect();
    assert_close_flat(&hv.to_flat(), &fd, 1e-6);
}

// ---------------------------------------------------------------- vectors' coordinates, tuples

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Cloud {
    pub points: Vec<nalgebra::Vector3<f64>>,
    pub pairs: Vec<(DVector<f64>, f64)>,
}

/// Coordinates of the elements of a `Vec<Vector3>` and parts of the elements of a
/// `Vec<(DVector, f64)>`: f(p) = Σᵢ (xᵢ yᵢ + zᵢ²) + Σⱼ cⱼ ‖uⱼ‖², so
/// p̄ᵢ = (yᵢ, xᵢ, 2zᵢ), ūⱼ = 2cⱼ uⱼ, c̄ⱼ = ‖uⱼ‖².
#[differentiate(wrt(p))]
fn cloud(p: &Cloud) -> f64 {
    let mut total = 0.0;
    for v in &p.points {
        total += v.x * v.y + v.z * v.z;
    }
    for pair in &p.pairs {
        total += pair.1 * pair.0.norm_squared();
    }
    total
}

#[test]
fn coordinates_and_tuple_parts() {
    let p = Cloud {
        points: vec![nalgebra::Vector3::new(0.3, -1.2, 0.5), nalgebra::Vector3::new(2.0, 0.1, -0.7)],
        pairs: vec![(DVector::from_vec(vec![0.2, -0.4]), 1.5), (DVector::from_vec(vec![1.0]), -0.5)],
    };
    let (value, g) = cloud_grad(&p);
    assert_eq!(value, cloud(&p));
    let mut want = p.clone();
    for (v, gv) in p.points.iter().zip(want.points.iter_mut()) {
        *gv = nalgebra::Vector3::new(v.y, v.x, 2.0 * v.z);
    }
    for ((u, c), (gu, gc)) in p.pairs.iter().zip(want.pairs.iter_mut()) {
        *gu = 2.0 * c * u;
        *gc = u.norm_squared();
    }
    assert_close_flat(&g.to_flat(), &want.to_flat(), 1e-12);
    assert_close_flat(&g.to_flat(), &numeric_flat(cloud, &p), 1e-7);
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Particle {
    pub pos: nalgebra::Vector3<f64>,
    pub m: f64,
}

/// Coordinates of a struct parameter's vector field: f(b) = m z + x y, so
/// p̄os = (y, x, m) and m̄ = z; in forward mode the tangent along V is ⟨∇f, V⟩.
#[differentiate(wrt(b), forward)]
fn energy(b: &Particle) -> f64 {
    b.m * b.pos.z + b.pos.x * b.pos.y
}

#[test]
fn coordinates_of_a_parameters_field() {
    let b = Particle { pos: nalgebra::Vector3::new(0.5, -2.0, 3.0), m: 1.5 };
    let (value, g) = energy_grad(&b);
    assert_eq!(value, energy(&b));
    assert_eq!(g.pos, nalgebra::Vector3::new(-2.0, 0.5, 1.5));
    assert_eq!(g.m, 3.0);
    assert_close_flat(&g.to_flat(), &numeric_flat(energy, &b), 1e-8);
    let v = Particle { pos: nalgebra::Vector3::new(0.1, 0.2, -0.3), m: 0.4 };
    let (_, tangent) = energy_jvp(&b, &v);
    let want = -2.0 * 0.1 + 0.5 * 0.2 + 1.5 * -0.3 + 3.0 * 0.4;
    assert!((tangent - want).abs() < 1e-14, "{tangent} vs {want}");
}

// ---------------------------------------------------------------- a reference to a temporary

/// A reference to a temporary kept by a loop's tape (it borrows itself: the tape's check of
/// what a reference points into must stop there): f(W) = Σ₁ⁿ ⟨W, 2X⟩² , W̄ = Σ 2⟨W, 2X⟩ 2X.
#[differentiate(wrt(w))]
fn temporary_reference(w: &DMatrix<f64>, x: &DMatrix<f64>, n: usize) -> f64 {
    let mut total = 0.0;
    for _ in 0..n {
        let c = &(x * 2.0);
        total += w.component_mul(c).sum().powi(2);
    }
    total
}

#[test]
fn a_reference_to_a_temporary_in_a_loop() {
    let w = DMatrix::from_fn(2, 3, |i, j| i as f64 - 0.5 * j as f64);
    let x = DMatrix::from_fn(2, 3, |i, j| 0.3 * (i + j) as f64 - 0.4);
    let (value, g) = temporary_reference_grad(&w, &x, 3);
    assert_eq!(value, temporary_reference(&w, &x, 3));
    let want = 3.0 * 2.0 * w.dot(&(2.0 * &x)) * 2.0 * &x;
    assert_close_flat(g.as_slice(), want.as_slice(), 1e-13);
    assert_close_flat(&g.to_flat(), &numeric_flat(|w| temporary_reference(w, &x, 3), &w), 1e-7);
}
