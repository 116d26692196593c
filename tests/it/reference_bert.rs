//! An independent all-MiniLM-L6-v2 forward pass in plain Rust, straight from the safetensors
//! weights, to check that the ONNX graph Lectern ships computes the same embeddings.

use std::collections::HashMap;
use std::path::Path;

const HIDDEN: usize = 384;
const HEADS: usize = 12;
const HEAD_DIM: usize = HIDDEN / HEADS;
const LAYERS: usize = 6;
const EPS: f64 = 1e-12;

pub struct Weights {
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
}

impl Weights {
    pub fn load(path: &Path) -> Self {
        let bytes = std::fs::read(path).expect("read safetensors");
        let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
        let header: serde_json::Value =
            serde_json::from_slice(&bytes[8..8 + header_len]).expect("safetensors header");
        let data = &bytes[8 + header_len..];
        let mut tensors = HashMap::new();
        for (name, meta) in header.as_object().expect("header object") {
            if meta["dtype"] != "F32" {
                continue;
            }
            let shape: Vec<usize> = meta["shape"]
                .as_array()
                .expect("shape")
                .iter()
                .map(|d| d.as_u64().expect("dim") as usize)
                .collect();
            let start = meta["data_offsets"][0].as_u64().expect("offset") as usize;
            let end = meta["data_offsets"][1].as_u64().expect("offset") as usize;
            let values = data[start..end]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            tensors.insert(name.clone(), (shape, values));
        }
        Self { tensors }
    }

    fn get(&self, name: &str) -> &[f32] {
        &self
            .tensors
            .get(name)
            .unwrap_or_else(|| panic!("missing tensor {name}"))
            .1
    }
}

/// y = x · Wᵀ + b for a torch Linear with weight [out, in], in f64.
fn linear(x: &[Vec<f64>], w: &[f32], b: &[f32], n_out: usize) -> Vec<Vec<f64>> {
    let n_in = x[0].len();
    x.iter()
        .map(|row| {
            (0..n_out)
                .map(|o| {
                    let wr = &w[o * n_in..(o + 1) * n_in];
                    f64::from(b[o])
                        + row
                            .iter()
                            .zip(wr)
                            .map(|(a, c)| a * f64::from(*c))
                            .sum::<f64>()
                })
                .collect()
        })
        .collect()
}

fn layer_norm(x: &mut [Vec<f64>], gamma: &[f32], beta: &[f32]) {
    for row in x.iter_mut() {
        let n = row.len() as f64;
        let mean = row.iter().sum::<f64>() / n;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let inv = 1.0 / (var + EPS).sqrt();
        for (i, v) in row.iter_mut().enumerate() {
            *v = (*v - mean) * inv * f64::from(gamma[i]) + f64::from(beta[i]);
        }
    }
}

/// erf by its Maclaurin series (converges fast for the small arguments GELU sees) and the
/// asymptotic tail beyond.
fn erf(x: f64) -> f64 {
    if x.abs() > 5.0 {
        return x.signum();
    }
    let mut term = x;
    let mut sum = x;
    let x2 = x * x;
    for n in 1..200 {
        term *= -x2 / n as f64;
        let add = term / (2 * n + 1) as f64;
        sum += add;
        if add.abs() < 1e-17 {
            break;
        }
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

fn gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2))
}

/// Mean-pooled, L2-normalised sentence embedding for one tokenised input (with [CLS]/[SEP]).
pub fn embed(w: &Weights, token_ids: &[u32]) -> Vec<f32> {
    let n = token_ids.len();
    let word = w.get("embeddings.word_embeddings.weight");
    let pos = w.get("embeddings.position_embeddings.weight");
    let typ = w.get("embeddings.token_type_embeddings.weight");
    let mut x: Vec<Vec<f64>> = token_ids
        .iter()
        .enumerate()
        .map(|(p, &t)| {
            (0..HIDDEN)
                .map(|i| {
                    f64::from(word[t as usize * HIDDEN + i])
                        + f64::from(pos[p * HIDDEN + i])
                        + f64::from(typ[i])
                })
                .collect()
        })
        .collect();
    layer_norm(
        &mut x,
        w.get("embeddings.LayerNorm.weight"),
        w.get("embeddings.LayerNorm.bias"),
    );
    for l in 0..LAYERS {
        let p = |s: &str| format!("encoder.layer.{l}.{s}");
        let q = linear(
            &x,
            w.get(&p("attention.self.query.weight")),
            w.get(&p("attention.self.query.bias")),
            HIDDEN,
        );
        let k = linear(
            &x,
            w.get(&p("attention.self.key.weight")),
            w.get(&p("attention.self.key.bias")),
            HIDDEN,
        );
        let v = linear(
            &x,
            w.get(&p("attention.self.value.weight")),
            w.get(&p("attention.self.value.bias")),
            HIDDEN,
        );
        let mut ctx = vec![vec![0.0; HIDDEN]; n];
        let scale = 1.0 / (HEAD_DIM as f64).sqrt();
        for h in 0..HEADS {
            let r = h * HEAD_DIM..(h + 1) * HEAD_DIM;
            for i in 0..n {
                let scores: Vec<f64> = (0..n)
                    .map(|j| {
                        q[i][r.clone()]
                            .iter()
                            .zip(&k[j][r.clone()])
                            .map(|(a, b)| a * b)
                            .sum::<f64>()
                            * scale
                    })
                    .collect();
                let max = scores.iter().cloned().fold(f64::MIN, f64::max);
                let exp: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let total: f64 = exp.iter().sum();
                for (j, e) in exp.iter().enumerate() {
                    for d in r.clone() {
                        ctx[i][d] += e / total * v[j][d];
                    }
                }
            }
        }
        let mut attn = linear(
            &ctx,
            w.get(&p("attention.output.dense.weight")),
            w.get(&p("attention.output.dense.bias")),
            HIDDEN,
        );
        for (a, xi) in attn.iter_mut().zip(&x) {
            for (av, xv) in a.iter_mut().zip(xi) {
                *av += xv;
            }
        }
        layer_norm(
            &mut attn,
            w.get(&p("attention.output.LayerNorm.weight")),
            w.get(&p("attention.output.LayerNorm.bias")),
        );
        let mut inter = linear(
            &attn,
            w.get(&p("intermediate.dense.weight")),
            w.get(&p("intermediate.dense.bias")),
            4 * HIDDEN,
        );
        for row in inter.iter_mut() {
            for v in row.iter_mut() {
                *v = gelu(*v);
            }
        }
        let mut out = linear(
            &inter,
            w.get(&p("output.dense.weight")),
            w.get(&p("output.dense.bias")),
            HIDDEN,
        );
        for (o, a) in out.iter_mut().zip(&attn) {
            for (ov, av) in o.iter_mut().zip(a) {
                *ov += av;
            }
        }
        layer_norm(
            &mut out,
            w.get(&p("output.LayerNorm.weight")),
            w.get(&p("output.LayerNorm.bias")),
        );
        x = out;
    }
    let mut mean = vec![0.0f64; HIDDEN];
    for row in &x {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v / n as f64;
        }
    }
    let norm = mean.iter().map(|v| v * v).sum::<f64>().sqrt();
    mean.iter().map(|v| (v / norm) as f32).collect()
}
