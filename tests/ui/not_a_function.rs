use matgrad::differentiate;

#[differentiate]
struct S;

fn main() {}
