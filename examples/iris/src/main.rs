//! A one-hidden-layer classifier of the iris flowers (150 samples, 4 measurements, 3 species;
//! the data ships inside `linfa-datasets`), its parameters in a `#[derive(Differentiable)]`
//! struct, trained with Adam on 120 samples and tested on the other 30. Prints a progress line,
//! the test accuracy, and writes the loss curve to `target/iris_loss.png`.
//!
//! `cargo run --release -p matgrad-iris-example`

use matgrad::{differentiate, Adam, Differentiable};
use nalgebra::{DMatrix, RowDVector};
use plotters::prelude::*;

#[derive(Clone, Debug, Differentiable)]
pub struct Classifier {
    pub w1: DMatrix<f64>,
    pub b1: RowDVector<f64>,
    pub w2: DMatrix<f64>,
    pub b2: RowDVector<f64>,
}

/// The logits of each sample (a row of `x`).
fn logits(p: &Classifier, x: &DMatrix<f64>) -> DMatrix<f64> {
    let h = matgrad::add_row_vector(&(x * &p.w1), &p.b1).map(|v| v.tanh());
    matgrad::add_row_vector(&(h * &p.w2), &p.b2)
}

/// Cross-entropy of the softmax of the logits against one-hot labels `y`.
#[differentiate(wrt(p))]
fn loss(p: &Classifier, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let h = matgrad::add_row_vector(&(x * &p.w1), &p.b1).map(|v| v.tanh());
    let z = matgrad::add_row_vector(&(h * &p.w2), &p.b2);
    matgrad::cross_entropy(&z, y)
}

fn accuracy(p: &Classifier, x: &DMatrix<f64>, labels: &[usize]) -> f64 {
    let z = logits(p, x);
    let right = (0..x.nrows()).filter(|&i| z.row(i).transpose().imax() == labels[i]).count();
    right as f64 / x.nrows() as f64
}

fn noise(k: usize) -> f64 {
    let x = (k as u64).wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

/// The samples `rows` of the records, standardised with the training set's mean and deviation.
fn features(records: &DMatrix<f64>, rows: &[usize], mean: &RowDVector<f64>, sd: &RowDVector<f64>) -> DMatrix<f64> {
    DMatrix::from_fn(rows.len(), records.ncols(), |i, j| (records[(rows[i], j)] - mean[j]) / sd[j])
}

fn one_hot(labels: &[usize], classes: usize) -> DMatrix<f64> {
    DMatrix::from_fn(labels.len(), classes, |i, j| if labels[i] == j { 1.0 } else { 0.0 })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = linfa_datasets::iris();
    let (records, targets) = (data.records(), data.targets());
    let records = DMatrix::from_fn(records.nrows(), records.ncols(), |i, j| records[(i, j)]);
    let targets: Vec<usize> = targets.iter().copied().collect();
    // Every fifth sample is held out (the data is ordered by species: 10 of each in the test set).
    let (test, train): (Vec<usize>, Vec<usize>) = (0..records.nrows()).partition(|i| i % 5 == 0);
    let train_rows = records.select_rows(&train);
    let mean = train_rows.row_mean();
    let sd = train_rows.row_variance().map(f64::sqrt);
    let (x_train, x_test) = (features(&records, &train, &mean, &sd), features(&records, &test, &mean, &sd));
    let labels = |rows: &[usize]| rows.iter().map(|&i| targets[i]).collect::<Vec<_>>();
    let (l_train, l_test) = (labels(&train), labels(&test));
    let y_train = one_hot(&l_train, 3);

    let hidden = 8;
    let mut p = Classifier {
        w1: DMatrix::from_fn(4, hidden, |i, j| 0.5 * noise(i * hidden + j)),
        b1: RowDVector::zeros(hidden),
        w2: DMatrix::from_fn(hidden, 3, |i, j| 0.5 * noise(1000 + i * 3 + j)),
        b2: RowDVector::zeros(3),
    };
    println!("iris: {} training and {} test samples, {} parameters", train.len(), test.len(), p.len());
    let mut adam = Adam::new(0.01);
    let epochs = 1500;
    let mut curve = Vec::with_capacity(epochs);
    for epoch in 0..epochs {
        let (value, g) = loss_grad(&p, &x_train, &y_train);
        curve.push(value);
        if epoch % 250 == 0 || epoch == epochs - 1 {
            println!(
                "epoch {epoch:>5}  loss {value:.4}  train accuracy {:.1}%",
                100.0 * accuracy(&p, &x_train, &l_train)
            );
        }
        adam.step(&mut p, &g);
    }
    let test_accuracy = accuracy(&p, &x_test, &l_test);
    println!("test accuracy {:.1}% ({} of {})", 100.0 * test_accuracy, (test_accuracy * 30.0).round(), test.len());

    let path = "target/iris_loss.png";
    let root = BitMapBackend::new(path, (640, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let top = curve.iter().copied().fold(0.0, f64::max);
    let mut chart = ChartBuilder::on(&root).margin(20).build_cartesian_2d(0..epochs, 0.0..top)?;
    chart.draw_series(LineSeries::new(curve.iter().enumerate().map(|(k, &v)| (k, v)), &BLUE))?;
    root.present()?;
    println!("loss curve (epoch → cross-entropy, from {top:.3}) written to {path}");
    assert!(test_accuracy >= 0.9);
    Ok(())
}
