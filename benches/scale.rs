//! Scale benchmark of retrieval over `../shared/data/corpus/scale_passages.jsonl.gz`
//! (309k passages): index build, size and load time, HNSW recall@10 against exact search,
//! and search latency. Not a test: nothing here asserts a time.
//!
//! ```sh
//! cargo bench --bench scale -- embed N            # embed a run's passages into a resumable cache
//! cargo bench --bench scale -- run N [M EF_CONSTRUCTION] [EF_SEARCH,...] [KEYWORD_ROW_BUDGET,...]
//! cargo bench --bench scale -- exact N,...     # exact search against the graph, synthetic vectors
//! ```
//! Passages are taken evenly spread over the file (every source is represented at any N).
//! Embeddings are cached in `~/.cache/lectern/scale` so runs with other parameters reuse them.

use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lectern::embed::{BATCH_SIZE, EmbedWorker, ModelFiles};
use lectern::index::{IndexParams, IndexSet};
use lectern::retrieve::{Retriever, SearchMode};
use lectern::store::{Db, DocFormat, NewChunk, NewDocument};
use lectern::{Library, Paths};

const DIMS: usize = 384;

struct Passage {
    id: String,
    text: String,
}

fn load_passages() -> Vec<Passage> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/corpus/scale_passages.jsonl.gz");
    let file = std::fs::File::open(&path).expect("scale_passages.jsonl.gz");
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
    reader
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(&l.expect("line")).expect("json");
            Passage {
                id: v["_id"].as_str().expect("_id").to_owned(),
                text: v["text"].as_str().expect("text").to_owned(),
            }
        })
        .collect()
}

/// Indices of an evenly spread subset of `n` out of `total`.
fn subset(total: usize, n: usize) -> Vec<usize> {
    (0..n.min(total))
        .map(|i| i * total / n.min(total))
        .collect()
}

/// The passages of a run of `n`: up to 100k, an evenly spread part of one fixed, evenly
/// spread 100k subset (so a 100k cache serves every smaller run); beyond, spread over all.
fn chosen(total: usize, n: usize) -> Vec<usize> {
    let base = subset(total, 100_000);
    if n <= base.len() {
        subset(base.len(), n).into_iter().map(|p| base[p]).collect()
    } else {
        subset(total, n)
    }
}

/// Outside the checkout, so that a fresh work tree keeps the hour of embedding work:
/// `$LECTERN_SCALE_CACHE`, else `~/.cache/lectern/scale`.
fn cache_dir() -> PathBuf {
    std::env::var_os("LECTERN_SCALE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into()))
                .join(".cache/lectern/scale")
        })
}

struct Cache {
    vectors: std::fs::File,
    done: Vec<bool>,
    done_path: PathBuf,
}

impl Cache {
    fn open(total: usize) -> Self {
        let dir = cache_dir();
        std::fs::create_dir_all(&dir).expect("cache dir");
        let vectors = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("vectors.f32"))
            .expect("cache file");
        vectors
            .set_len((total * DIMS * 4) as u64)
            .expect("size cache");
        let done_path = dir.join("done.bin");
        let mut done: Vec<bool> = std::fs::read(&done_path)
            .unwrap_or_default()
            .iter()
            .map(|&b| b == 1)
            .collect();
        done.resize(total, false);
        Self {
            vectors,
            done,
            done_path,
        }
    }

    fn write(&mut self, idx: usize, v: &[f32]) {
        self.vectors
            .seek(SeekFrom::Start((idx * DIMS * 4) as u64))
            .expect("seek");
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.vectors.write_all(&bytes).expect("write vector");
        self.done[idx] = true;
    }

    fn flush(&mut self) {
        self.vectors.sync_data().expect("sync");
        let bytes: Vec<u8> = self.done.iter().map(|&d| u8::from(d)).collect();
        std::fs::write(&self.done_path, bytes).expect("write done");
    }

    fn read(&mut self, idx: usize) -> Vec<f32> {
        let mut bytes = vec![0u8; DIMS * 4];
        self.vectors
            .seek(SeekFrom::Start((idx * DIMS * 4) as u64))
            .expect("seek");
        self.vectors.read_exact(&mut bytes).expect("read vector");
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }
}

fn embedder() -> EmbedWorker {
    EmbedWorker::onnx(&ModelFiles::default_in(&Paths::resolve(None).models_dir))
        .expect("embedding model")
}

fn embed(limit: usize) {
    let passages = load_passages();
    let mut cache = Cache::open(passages.len());
    let mut todo: Vec<usize> = chosen(passages.len(), limit)
        .into_iter()
        .filter(|&i| !cache.done[i])
        .collect();
    // Batches of similar length waste little on padding, and this corpus runs from a few
    // words (WordNet) to 256 tokens (kernel docs).
    todo.sort_by_key(|&i| passages[i].text.len());
    eprintln!("{} passages to embed", todo.len());
    let worker = embedder();
    let started = Instant::now();
    for (n, batch) in todo.chunks(BATCH_SIZE).enumerate() {
        let texts = batch.iter().map(|&i| passages[i].text.clone()).collect();
        let vectors = worker.embed_blocking(texts).expect("embed");
        for (&i, v) in batch.iter().zip(&vectors) {
            cache.write(i, v);
        }
        if n % 100 == 99 {
            cache.flush();
            let done = (n + 1) * BATCH_SIZE;
            eprintln!(
                "{done} embedded, {:.1} passages/s",
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    cache.flush();
    eprintln!("done in {:.0} s", started.elapsed().as_secs_f64());
}

async fn store(
    db: &Db,
    col: lectern::CollectionId,
    passages: &[Passage],
    chosen: &[usize],
    vectors: &[Vec<f32>],
    model_id: &str,
) {
    for (&i, v) in chosen.iter().zip(vectors) {
        let p = &passages[i];
        db.replace_document(&NewDocument {
            collection_id: col,
            name: p.id.clone(),
            source_path: p.id.clone(),
            format: DocFormat::Text,
            content_hash: p.id.clone(),
            byte_len: p.text.len() as i64,
            n_pages: None,
            n_ocr_pages: 0,
            embedding_model: model_id.to_owned(),
            source_mtime_ns: None,
            chunks: vec![NewChunk {
                first_page: None,
                last_page: None,
                char_start: 0,
                char_end: p.text.chars().count() as i64,
                n_tokens: 0,
                text: p.text.clone(),
                embedding: v.clone(),
                ocr: false,
                section: None,
            }],
        })
        .await
        .expect("store");
    }
}

/// Start-up cost alone: a library of `n` passages kept in the cache directory (built on the
/// first call), opened `repeat` times; the index load is timed apart from the database's
/// part of reconciliation (reading the collection's chunk ids).
fn load(n: usize, repeat: usize) {
    let dir = cache_dir().join(format!("library-{n}"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let paths = Paths {
            data_dir: dir.clone(),
            models_dir: Paths::resolve(None).models_dir,
        };
        let fresh = !paths.database().exists();
        let library = Library::open(paths).await.expect("library");
        let db: &Db = library.db();
        if fresh {
            let passages = load_passages();
            let mut cache = Cache::open(passages.len());
            let chosen = chosen(passages.len(), n);
            assert!(chosen.iter().all(|&i| cache.done[i]), "embed first");
            let vectors: Vec<Vec<f32>> = chosen.iter().map(|&i| cache.read(i)).collect();
            let col = db.create_collection("scale").await.expect("collection").id;
            store(db, col, &passages, &chosen, &vectors, "bench").await;
        }
        let col = db.collection("scale").await.expect("collection").id;
        library.indexes().get(db, col).await.expect("build");
        for _ in 0..repeat {
            let started = Instant::now();
            let ids = db.chunk_ids(col).await.expect("ids");
            let ids_s = started.elapsed().as_secs_f64();
            let indexes = IndexSet::new(dir.join("index"), IndexParams::default(), DIMS);
            let started = Instant::now();
            indexes.get(db, col).await.expect("load");
            println!(
                "{} points: open {:.2} s (of which reading chunk ids {:.2} s)",
                ids.len(),
                started.elapsed().as_secs_f64(),
                ids_s
            );
        }
    });
}

/// Search latency of the exact scan small collections get against the HNSW graph at the
/// default ef_search, on N pseudo-random unit vectors (the scan's cost does not depend on
/// what the vectors mean), 200 queries each.
fn exact(sizes: &[usize]) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        println!("| passages | exact p50 ms | exact p90 ms | graph p50 ms | graph p90 ms |");
        println!("|---:|---:|---:|---:|---:|");
        for &n in sizes {
            let dir = tempfile::tempdir().expect("temp dir");
            let db = Db::open(&dir.path().join("lectern.db")).await.expect("db");
            let collection = db.create_collection("c").await.expect("collection").id;
            let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
            let mut unit = || {
                let v: Vec<f32> = (0..DIMS)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
                    })
                    .collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.into_iter().map(|x| x / norm).collect::<Vec<f32>>()
            };
            let chunks = (0..n)
                .map(|_| NewChunk {
                    first_page: None,
                    last_page: None,
                    char_start: 0,
                    char_end: 0,
                    n_tokens: 0,
                    text: String::new(),
                    embedding: unit(),
                    ocr: false,
                    section: None,
                })
                .collect();
            db.replace_document(&NewDocument {
                collection_id: collection,
                name: "synthetic".into(),
                source_path: "/synthetic".into(),
                format: DocFormat::Text,
                content_hash: "synthetic".into(),
                byte_len: 0,
                n_pages: None,
                n_ocr_pages: 0,
                embedding_model: "synthetic".into(),
                source_mtime_ns: None,
                chunks,
            })
            .await
            .expect("store");
            let queries: Vec<Vec<f32>> = (0..200).map(|_| unit()).collect();
            let mut row = vec![n.to_string()];
            for exact_up_to in [usize::MAX, 0] {
                let params = IndexParams {
                    exact_up_to,
                    ..IndexParams::default()
                };
                let index_dir = dir.path().join(format!("index-{exact_up_to}"));
                let (index, _) =
                    lectern::index::CollectionIndex::open(index_dir, params, DIMS, &db, collection)
                        .await
                        .expect("index");
                let mut times = Vec::new();
                for query in &queries {
                    let started = Instant::now();
                    index
                        .search(query.clone(), 30, params.ef_search)
                        .await
                        .expect("search");
                    times.push(started.elapsed());
                }
                times.sort();
                row.push(format!("{:.2}", percentile(&times, 0.5)));
                row.push(format!("{:.2}", percentile(&times, 0.9)));
            }
            println!("| {} |", row.join(" | "));
        }
    });
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1000.0
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        dir_size(&e.path())
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    kib as f64 / 1024.0
}

fn run(n: usize, params: IndexParams, ef_sweep: &[usize], budgets: &[usize]) {
    let passages = load_passages();
    let mut cache = Cache::open(passages.len());
    let chosen = chosen(passages.len(), n);
    assert!(
        chosen.iter().all(|&i| cache.done[i]),
        "embed first: cargo bench --bench scale -- embed"
    );
    let vectors: Vec<Vec<f32>> = chosen.iter().map(|&i| cache.read(i)).collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let worker = embedder();

    runtime.block_on(async {
        let paths = Paths { data_dir: dir.path().to_owned(), models_dir: Paths::resolve(None).models_dir };
        let library = Library::open(paths).await.expect("library");
        let db: &Db = library.db();
        let col = db.create_collection("scale").await.expect("collection").id;
        let started = Instant::now();
        store(db, col, &passages, &chosen, &vectors, worker.model_id()).await;
        let store_s = started.elapsed().as_secs_f64();

        let index_root = dir.path().join("bench-index");
        let started = Instant::now();
        let indexes = IndexSet::new(index_root.clone(), params, DIMS);
        indexes.get(db, col).await.expect("build");
        let build_s = started.elapsed().as_secs_f64();
        let index_mib = dir_size(&index_root) as f64 / (1 << 20) as f64;
        drop(indexes);

        let started = Instant::now();
        let indexes = IndexSet::new(index_root.clone(), params, DIMS);
        let index = indexes.get(db, col).await.expect("load");
        let load_s = started.elapsed().as_secs_f64();
        let retriever = Retriever::new(db.clone(), worker.clone(), indexes.clone());

        // Queries: the first words of 200 passages spread over the subset.
        let queries: Vec<String> = subset(chosen.len(), 200)
            .into_iter()
            .map(|j| passages[chosen[j]].text.split_whitespace().take(8).collect::<Vec<_>>().join(" "))
            .collect();
        let mut embed_times = Vec::new();
        let mut query_vectors = Vec::new();
        for q in &queries {
            let t = Instant::now();
            query_vectors.push(worker.embed(vec![q.clone()]).await.expect("embed").remove(0));
            embed_times.push(t.elapsed());
        }
        // Exact top-10 by brute force over the same vectors.
        let ids: Vec<i64> = db.chunk_ids(col).await.expect("ids");
        let all = db.chunk_vectors(col, None).await.expect("vectors");
        let exact: Vec<Vec<i64>> = query_vectors
            .iter()
            .map(|q| {
                let mut scored: Vec<(f32, i64)> =
                    all.iter().map(|(id, v)| (v.iter().zip(q).map(|(a, b)| a * b).sum(), *id)).collect();
                scored.sort_by(|a, b| b.0.total_cmp(&a.0));
                scored.into_iter().take(10).map(|(_, id)| id).collect()
            })
            .collect();
        assert_eq!(ids.len(), n);

        println!(
            "\n| passages | M | ef_construction | store s | index build s | index MiB | index load s | query embed p50 ms |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        embed_times.sort();
        println!(
            "| {n} | {} | {} | {store_s:.0} | {build_s:.1} | {index_mib:.0} | {load_s:.2} | {:.1} |",
            params.m,
            params.ef_construction,
            percentile(&embed_times, 0.5)
        );
        println!("\n| passages | ef_search | recall@10 vs exact | vector p50 ms | vector p95 ms |");
        println!("|---|---|---|---|---|");
        for &ef in ef_sweep {
            let mut times = Vec::new();
            let mut hits_total = 0;
            for (q, want) in query_vectors.iter().zip(&exact) {
                let t = Instant::now();
                let got = index.search(q.clone(), 10, ef).await.expect("search");
                times.push(t.elapsed());
                hits_total += got.iter().filter(|(id, _)| want.contains(id)).count();
            }
            times.sort();
            println!(
                "| {n} | {ef} | {:.3} | {:.2} | {:.2} |",
                hits_total as f64 / (10 * queries.len()) as f64,
                percentile(&times, 0.5),
                percentile(&times, 0.95)
            );
        }
        // Keyword search leaves out a query's commonest words past a row budget; compare
        // each budget with exact BM25 over all the words (budget usize::MAX).
        let top10 = |hits: &[lectern::retrieve::Passage]| -> Vec<i64> {
            hits.iter().take(10).map(|p| p.chunk_id).collect()
        };
        let mut exact_lists: std::collections::HashMap<&str, Vec<Vec<i64>>> = Default::default();
        println!(
            "\n| passages | mode | keyword row budget | p50 ms | p95 ms | p50 ms with query embedding | p95 ms with query embedding | top-10 overlap with exact BM25 |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        let mut runs = vec![(SearchMode::Vector, usize::MAX)];
        for &budget in std::iter::once(&usize::MAX).chain(budgets) {
            runs.push((SearchMode::Keyword, budget));
            runs.push((SearchMode::Hybrid, budget));
        }
        for (mode, budget) in runs {
            let retriever = retriever.clone().with_keyword_row_budget(budget);
            let (mut bare, mut full, mut lists) = (Vec::new(), Vec::new(), Vec::new());
            for (q, v) in queries.iter().zip(&query_vectors) {
                let vector = (mode != SearchMode::Keyword).then(|| v.clone());
                let t = Instant::now();
                let hits = retriever.search_with_vector(col, q, vector, 10, mode).await.expect("search");
                bare.push(t.elapsed());
                lists.push(top10(&hits));
                let t = Instant::now();
                retriever.search(col, q, 10, mode).await.expect("search");
                full.push(t.elapsed());
            }
            bare.sort();
            full.sort();
            let exact = exact_lists.entry(mode.as_str()).or_insert_with(|| lists.clone());
            let overlap: f64 = exact
                .iter()
                .zip(&lists)
                .map(|(a, b)| {
                    if a.is_empty() {
                        1.0
                    } else {
                        b.iter().filter(|id| a.contains(id)).count() as f64 / a.len() as f64
                    }
                })
                .sum::<f64>()
                / lists.len() as f64;
            let budget = if budget == usize::MAX { "none (exact)".to_owned() } else { budget.to_string() };
            println!(
                "| {n} | {} | {budget} | {:.1} | {:.1} | {:.1} | {:.1} | {overlap:.3} |",
                mode.as_str(),
                percentile(&bare, 0.5),
                percentile(&bare, 0.95),
                percentile(&full, 0.5),
                percentile(&full, 0.95)
            );
        }
        println!("\npeak RSS {:.0} MiB", rss_mib());
    });
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    match args.first().map(String::as_str) {
        Some("embed") => embed(
            args.get(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(usize::MAX),
        ),
        Some("load") => load(
            args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000),
            args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3),
        ),
        Some("run") => {
            let n = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
            // The graph is what is measured, however small the run.
            let mut params = IndexParams {
                exact_up_to: 0,
                ..IndexParams::default()
            };
            if let (Some(m), Some(efc)) = (args.get(2), args.get(3)) {
                params.m = m.parse().expect("M");
                params.ef_construction = efc.parse().expect("ef_construction");
            }
            let sweep: Vec<usize> = args
                .get(4)
                .map(|s| s.split(',').map(|x| x.parse().expect("ef")).collect())
                .unwrap_or_else(|| vec![32, 64, 96, 128, 200]);
            let budgets: Vec<usize> = args
                .get(5)
                .map(|s| s.split(',').map(|x| x.parse().expect("budget")).collect())
                .unwrap_or_else(|| vec![lectern::retrieve::KEYWORD_ROW_BUDGET]);
            run(n, params, &sweep, &budgets);
        }
        Some("exact") => {
            let sizes: Vec<usize> = args
                .get(1)
                .map(|s| s.split(',').map(|x| x.parse().expect("N")).collect())
                .unwrap_or_else(|| vec![1_000, 5_000, 20_000]);
            exact(&sizes);
        }
        _ => eprintln!(
            "usage: cargo bench --bench scale -- embed [N] | run N [M EF_CONSTRUCTION] [EF,...] [BUDGET,...] | exact N,..."
        ),
    }
}
