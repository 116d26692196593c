//! The real embedding model: meaningful vectors, and the same numbers as an independent
//! forward pass over the original fp32 weights.

use lectern::EmbedError;
use lectern::embed::{EmbedWorker, ModelFiles, OnnxEmbedder, cosine};

use crate::reference_bert;
use crate::support::{embedder, model_files, models_dir};

#[tokio::test]
async fn related_sentences_are_closer_than_unrelated_ones() {
    let worker = embedder();
    assert_eq!(worker.dims(), 384);
    let v = worker
        .embed(vec![
            "A cat sat on the mat.".into(),
            "A kitten was sitting on a rug.".into(),
            "Quarterly revenue rose by four percent.".into(),
            "How do I install a Debian package?".into(),
            "Use apt-get install to add software to a Debian system.".into(),
        ])
        .await
        .expect("embed");
    for e in &v {
        let norm: f32 = e.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not normalised: {norm}");
    }
    let cat_kitten = cosine(&v[0], &v[1]);
    let cat_revenue = cosine(&v[0], &v[2]);
    assert!(cat_kitten > 0.5, "cat/kitten {cat_kitten}");
    assert!(cat_revenue < 0.15, "cat/revenue {cat_revenue}");
    assert!(cosine(&v[3], &v[4]) > cosine(&v[3], &v[0]) + 0.3);
}

#[tokio::test]
async fn shipped_onnx_graph_matches_an_independent_forward_pass_of_the_fp32_weights() {
    let files = model_files();
    let weights = reference_bert::Weights::load(&files.dir.join("model.safetensors"));
    let tokenizer = files.tokenizer().expect("tokenizer");
    let sentences = [
        "Lectern keeps your documents on your own machine.",
        "What is the Debian project?",
        "Ein Leuchtturm zeigt Schiffen nachts den Weg.",
    ];
    let got = embedder()
        .embed(sentences.iter().map(|s| (*s).to_owned()).collect())
        .await
        .expect("embed");
    for (sentence, got) in sentences.iter().zip(&got) {
        let ids = tokenizer
            .encode(*sentence, true)
            .expect("encode")
            .get_ids()
            .to_vec();
        let want = reference_bert::embed(&weights, &ids);
        let max_diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max_diff < 1e-4, "{sentence:?}: max difference {max_diff}");
    }
}

#[tokio::test]
async fn batches_give_the_same_vectors_as_single_texts() {
    let worker = embedder();
    let texts: Vec<String> = (0..40)
        .map(|i| format!("sentence number {i} about lighthouses"))
        .collect();
    let batched = worker.embed(texts.clone()).await.expect("batch");
    let single = worker.embed(vec![texts[37].clone()]).await.expect("single");
    let diff = batched[37]
        .iter()
        .zip(&single[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff < 1e-5, "padding changed the vector by {diff}");
}

#[test]
fn a_missing_model_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = ModelFiles::default_in(dir.path());
    let err = OnnxEmbedder::load(&files).err().expect("must fail");
    assert!(matches!(err, EmbedError::ModelMissing(_)), "{err}");
    assert_eq!(err.code(), "model_missing");
    let err = EmbedWorker::onnx(&files).expect_err("must fail");
    assert!(err.to_string().contains("model.onnx"), "{err}");
    assert!(ModelFiles::default_in(dir.path()).tokenizer().is_err());
    // The real folder is still fine afterwards.
    assert!(ModelFiles::default_in(&models_dir()).tokenizer().is_ok());
}
