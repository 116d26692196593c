//! Kill -9 at random moments of `lectern ingest` on real PDFs: after every kill the database
//! is whole (every document complete or absent, keyword rows in step, no orphans), the vector
//! index agrees with it once opened, and running the ingest again finishes without duplicates.
//!
//! `LECTERN_KILL_ROUNDS` sets the number of kills (a few here; `scripts/reliability.sh` runs
//! many), `LECTERN_KILL_SEED` replays a failing run (the seed is printed). The same for index
//! compaction (`lectern remove`) and embedding-model switches (`lectern embedding use`).

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use lectern::{Library, Paths};

use crate::cli::lectern;
use crate::support::{models_dir, shared_pdf};

/// Real PDFs written by others, and one that fails (the batch must go on past it).
const GOOD: [&str; 4] = [
    "paper_zoo_jss.pdf",
    "paper_sandwich_jss.pdf",
    "table_mtcars_3p.pdf",
    "table_campaign_donors.pdf",
];
const BAD: &str = "bad_invalid-header-eof.pdf";

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// How many kills (`LECTERN_KILL_ROUNDS`, 3 by default) and the seed of their times
/// (`LECTERN_KILL_SEED`, or the clock's), printed so a failing run can be replayed.
fn kill_rounds_and_seed(test: &str) -> (u64, u64) {
    let rounds = env_u64("LECTERN_KILL_ROUNDS").unwrap_or(3);
    let seed = env_u64("LECTERN_KILL_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1
    });
    eprintln!("{test}: {rounds} rounds, LECTERN_KILL_SEED={seed}");
    (rounds, seed)
}

/// xorshift64*: enough to spread kill times, and replayable from the seed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

#[tokio::test(flavor = "multi_thread")]
async fn ingest_killed_at_random_moments_never_leaves_a_partial_document() {
    let (rounds, seed) = kill_rounds_and_seed("kill test");
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path();
    let files: Vec<String> = GOOD
        .iter()
        .chain([&BAD])
        .map(|f| shared_pdf(f).to_string_lossy().into_owned())
        .collect();

    let mut rng = seed;
    let mut n_finished_before_kill = 0;
    for round in 0..rounds {
        // Each round ingests into a collection of its own, so every kill lands on fresh work:
        // from just after start-up to a little past the end of a whole run (about 8 s here).
        let collection = format!("crash-{round}");
        let delay = Duration::from_millis(200 + next(&mut rng) % 7_800);
        let when = format!("round {round}, killed after {delay:?}, seed {seed}");
        let args: Vec<&str> = ["ingest", "-c", collection.as_str()]
            .into_iter()
            .chain(files.iter().map(String::as_str))
            .collect();
        if !run_and_kill(data, &args, delay).await {
            n_finished_before_kill += 1;
        }
        check(data, &when).await;

        // Restarted: the same ingest finishes, and every file is there once.
        let (rc, out) = lectern(data, &args);
        assert_eq!(rc, 2, "{when}: only the bad file fails: {out:?}");
        for line in &out[..GOOD.len()] {
            assert!(
                line["status"] == "indexed" || line["status"] == "skipped",
                "{when}: {line}"
            );
        }
        check(data, &format!("{when}, after the rerun")).await;
        let library = open(data).await;
        let id = library
            .db()
            .collection(&collection)
            .await
            .expect("collection")
            .id;
        let docs = library.db().documents(id).await.expect("documents");
        let names: HashSet<&str> = docs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(docs.len(), GOOD.len(), "{when}: one document per file");
        assert_eq!(names, GOOD.into_iter().collect(), "{when}");
        library.db().close().await;
    }
    eprintln!("kill test: {n_finished_before_kill} of {rounds} runs had finished before the kill");
}

/// Kill -9 at random moments of `lectern sync` while a followed folder gains, loses, renames
/// and rewrites files between rounds: after every kill the database is whole and every file
/// whose bytes the collection held before the round still has its document (a sync deletes
/// last); a sync run again leaves exactly one document per file, with the file's bytes.
#[tokio::test(flavor = "multi_thread")]
async fn sync_killed_at_random_moments_loses_nothing() {
    let (rounds, seed) = kill_rounds_and_seed("sync kill test");
    let dir = tempfile::tempdir().expect("temp dir");
    let (data, docs) = (dir.path().join("data"), dir.path().join("docs"));
    std::fs::create_dir_all(&docs).expect("mkdir");
    for name in &GOOD[..2] {
        std::fs::copy(shared_pdf(name), docs.join(name)).expect("copy");
    }
    std::fs::write(
        docs.join("note.md"),
        "# Note\n\nThe first version of the note.",
    )
    .expect("write");
    let (rc, out) = lectern(&data, &["follow", "-c", "f", docs.to_str().expect("utf-8")]);
    assert_eq!(rc, 0, "{out:?}");

    let hashes_in = |data: std::path::PathBuf| {
        let (rc, out) = lectern(&data, &["documents", "-c", "f"]);
        assert_eq!(rc, 0, "{out:?}");
        out.iter()
            .map(|d| d["sha256"].as_str().expect("sha256").to_owned())
            .collect::<HashSet<String>>()
    };
    let files_in = |docs: &std::path::Path| {
        std::fs::read_dir(docs)
            .expect("read dir")
            .map(|e| e.expect("entry").path())
            .map(|p| (p.clone(), lectern::models::sha256_file(&p).expect("hash")))
            .collect::<Vec<_>>()
    };
    let mut rng = seed;
    for round in 0..rounds {
        let before = hashes_in(data.clone());
        // Gains the next PDF, loses the oldest, renames one, rewrites the note.
        let present: Vec<std::path::PathBuf> = files_in(&docs)
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
            .collect();
        // Two files with the same bytes are one document, so every file gained is new bytes.
        if let Some(gained) = GOOD.get(2 + round as usize) {
            std::fs::copy(shared_pdf(gained), docs.join(gained)).expect("copy");
        } else {
            let extra = format!("# Extra {round}\n\nA note added in round {round}.");
            std::fs::write(docs.join(format!("extra-{round}.md")), extra).expect("write");
        }
        if let Some(oldest) = present.first() {
            std::fs::remove_file(oldest).expect("rm");
        }
        if let Some(other) = present.get(1) {
            let renamed = other.with_file_name(format!("renamed-{round}.pdf"));
            std::fs::rename(other, renamed).expect("mv");
        }
        std::fs::write(
            docs.join("note.md"),
            format!("# Note\n\nVersion {round} of the note, rewritten."),
        )
        .expect("write");

        let delay = Duration::from_millis(100 + next(&mut rng) % 5_000);
        let when = format!("round {round}, sync killed after {delay:?}, seed {seed}");
        run_and_kill(&data, &["sync"], delay).await;
        check(&data, &when).await;
        let after_kill = hashes_in(data.clone());
        for (path, hash) in files_in(&docs) {
            if before.contains(&hash) {
                assert!(
                    after_kill.contains(&hash),
                    "{when}: {} lost",
                    path.display()
                );
            }
        }

        let (rc, out) = lectern(&data, &["sync"]);
        assert_eq!(rc, 0, "{when}: the sync run again: {out:?}");
        check(&data, &format!("{when}, after the rerun")).await;
        let (_, documents) = lectern(&data, &["documents", "-c", "f"]);
        let stored: HashSet<(String, String)> = documents
            .iter()
            .map(|d| {
                (
                    d["path"].as_str().expect("path").to_owned(),
                    d["sha256"].as_str().expect("sha").to_owned(),
                )
            })
            .collect();
        let on_disk: HashSet<(String, String)> = files_in(&docs)
            .into_iter()
            .map(|(p, h)| (p.to_string_lossy().into_owned(), h))
            .collect();
        assert_eq!(
            stored, on_disk,
            "{when}: one document per file, with its bytes"
        );
    }
}

/// Runs `lectern --json ARGS` on `data` and kills it (-9) after `delay`; true when it was still
/// running then, i.e. the kill landed mid-way.
async fn run_and_kill(data: &std::path::Path, args: &[&str], delay: Duration) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lectern"))
        .arg("--data-dir")
        .arg(data)
        .arg("--json")
        .args(args)
        .env("LECTERN_MODELS_DIR", models_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lectern");
    tokio::time::sleep(delay).await;
    let running = matches!(child.try_wait(), Ok(None));
    child.kill().expect("kill -9");
    let _ = child.wait();
    running
}

async fn open(data: &std::path::Path) -> Library {
    Library::open(Paths {
        data_dir: data.to_owned(),
        models_dir: models_dir(),
    })
    .await
    .expect("open the library after a kill")
}

/// What must hold after any kill.
async fn check(data: &std::path::Path, when: &str) {
    if !data.join("lectern.db").exists() {
        return; // killed before the database was created
    }
    let library = open(data).await;
    let db = library.db();
    assert!(
        db.integrity_check().await.expect("integrity check"),
        "{when}: SQLite integrity"
    );
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(db.pool())
            .await
            .expect(sql)
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)")
            .await,
        0,
        "{when}: orphan chunks"
    );
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM documents d \
             WHERE d.n_chunks != (SELECT COUNT(*) FROM chunks c WHERE c.document_id = d.id)"
        )
        .await,
        0,
        "{when}: a document with some of its chunks missing"
    );
    for collection in db.collections().await.expect("collections") {
        let chunk_ids: HashSet<i64> = db
            .chunk_ids(collection.id)
            .await
            .expect("chunk ids")
            .into_iter()
            .collect();
        let index = library
            .indexes()
            .get(db, collection.id)
            .await
            .unwrap_or_else(|e| panic!("{when}: the index could not be opened: {e}"));
        let stats = index.stats().await.expect("stats");
        assert_eq!(
            stats.n_points - stats.n_tombstones,
            chunk_ids.len(),
            "{when}: live index points against stored chunks"
        );
        if let Some(&some_id) = chunk_ids.iter().next() {
            let vector = db
                .chunk_vectors(collection.id, Some(&[some_id]))
                .await
                .expect("vector")
                .remove(0)
                .1;
            let hits = index.search(vector, 20, 64).await.expect("search");
            assert!(
                hits.iter().all(|(id, _)| chunk_ids.contains(id)),
                "{when}: the index returned a chunk that is not stored"
            );
            assert_eq!(hits.first().map(|h| h.0), Some(some_id), "{when}");
        }
    }
    library.db().close().await;
}

/// Two processes ingesting the same file into the same collection at once: one document, and
/// a database and index that agree.
#[tokio::test(flavor = "multi_thread")]
async fn two_ingests_of_the_same_file_at_once_store_it_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path();
    let (rc, _) = lectern(data, &["collection", "create", "twice"]);
    assert_eq!(rc, 0);
    let file = shared_pdf(GOOD[0]);
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_lectern"))
            .arg("--data-dir")
            .arg(data)
            .args(["--json", "ingest", "-c", "twice"])
            .arg(&file)
            .env("LECTERN_MODELS_DIR", models_dir())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start lectern ingest")
    };
    let (first, second) = (start(), start());
    for child in [first, second] {
        let output = child.wait_with_output().expect("wait");
        let line: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("one JSON line");
        assert!(output.status.success(), "{line}");
        assert!(
            line["status"] == "indexed" || line["status"] == "skipped",
            "{line}"
        );
    }
    check(data, "after two concurrent ingests").await;
    let library = open(data).await;
    let id = library
        .db()
        .collection("twice")
        .await
        .expect("collection")
        .id;
    assert_eq!(
        library.db().documents(id).await.expect("documents").len(),
        1
    );
}

/// A document of synthetic passages with random unit vectors, stored straight into SQLite:
/// collections large enough that compacting their index takes a while, without embedding.
async fn store_synthetic_document(
    library: &Library,
    collection_id: lectern::CollectionId,
    name: &str,
    n_chunks: usize,
    rng: &mut u64,
) {
    let dims = 384;
    let chunks = (0..n_chunks)
        .map(|chunk_idx| {
            let mut v: Vec<f32> = (0..dims)
                .map(|_| (next(rng) % 2001) as f32 / 1000.0 - 1.0)
                .collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
            v.iter_mut().for_each(|x| *x /= norm);
            lectern::store::NewChunk {
                first_page: None,
                last_page: None,
                char_start: 0,
                char_end: 10,
                n_tokens: 3,
                text: format!("synthetic passage {name} {chunk_idx}"),
                embedding: v,
                ocr: false,
                section: None,
            }
        })
        .collect();
    library
        .db()
        .replace_document(&lectern::store::NewDocument {
            collection_id,
            source_path: format!("/nowhere/{name}"),
            name: name.to_owned(),
            format: lectern::store::DocFormat::Text,
            content_hash: format!("{:016x}", next(rng)),
            byte_len: 10,
            n_pages: None,
            n_ocr_pages: 0,
            embedding_model: lectern::embed::DEFAULT_MODEL.into(),
            source_mtime_ns: None,
            chunks,
        })
        .await
        .expect("store a synthetic document");
    let index = library
        .indexes()
        .get(library.db(), collection_id)
        .await
        .expect("index");
    index.save().await.expect("save the index");
}

/// Kill -9 while `lectern remove` compacts the index (removing a third of the points passes
/// the tombstone threshold, so the graph is rebuilt and a new generation written): after
/// every kill the index on disk is a whole generation, old or new, that loads without a
/// rebuild and agrees with SQLite, and the removal run again completes.
#[tokio::test(flavor = "multi_thread")]
async fn compaction_killed_at_random_moments_leaves_a_whole_index() {
    let rounds = env_u64("LECTERN_KILL_ROUNDS").unwrap_or(3);
    let seed = env_u64("LECTERN_KILL_SEED").unwrap_or(0x5eed_1dea) | 1;
    let mut rng = seed;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path();
    let collection_id = {
        let library = open(data).await;
        let id = library
            .db()
            .create_collection("big")
            .await
            .expect("create")
            .id;
        store_synthetic_document(&library, id, "base.txt", 1200, &mut rng).await;
        library.db().close().await;
        id
    };
    let mut full = Duration::ZERO;
    let mut n_killed_mid_way = 0;
    for round in 0..=rounds {
        let doc = format!("removed-{round}.txt");
        {
            let library = open(data).await;
            store_synthetic_document(&library, collection_id, &doc, 600, &mut rng).await;
            library.db().close().await;
        }
        if round == 0 {
            // An uninterrupted removal, timed to aim the kills inside the next ones.
            let started = std::time::Instant::now();
            let (rc, out) = lectern(data, &["remove", "-c", "big", &doc]);
            assert_eq!(rc, 0, "{out:?}");
            full = started.elapsed();
            eprintln!(
                "compaction kill test: removal with compaction takes {full:.2?}; {rounds} kills, \
                 LECTERN_KILL_SEED={seed}"
            );
            continue;
        }
        let delay = full.mul_f64(0.05 + (next(&mut rng) % 1000) as f64 / 1000.0);
        let when = format!("compaction round {round}, killed after {delay:?}, seed {seed}");
        if run_and_kill(data, &["remove", "-c", "big", &doc], delay).await {
            n_killed_mid_way += 1;
        }
        {
            let library = open(data).await;
            library
                .indexes()
                .get(library.db(), collection_id)
                .await
                .expect("index");
            let origin = library.indexes().origin(collection_id).await;
            assert!(
                matches!(origin, Some(lectern::index::IndexOrigin::Loaded { .. })),
                "{when}: the index on disk was not whole: {origin:?}"
            );
            library.db().close().await;
        }
        check(data, &when).await;
        let (rc, out) = lectern(data, &["remove", "-c", "big", &doc]);
        assert!(
            rc == 0 || out.iter().any(|l| l["error"]["code"] == "not_found"),
            "{when}: the removal run again: {out:?}"
        );
        check(data, &format!("{when}, after the rerun")).await;
    }
    eprintln!("compaction kill test: {n_killed_mid_way} of {rounds} kills landed mid-removal");
}

/// Kill -9 at random moments of embedding-model switches, alternately to the small model and
/// back (each direction first timed uninterrupted, to aim the kills from its model loading to
/// its last index write): the library always uses one model whole, the old model's index keeps
/// serving until the swap, and the switch run again completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedding_switch_killed_at_random_moments_is_never_half_done() {
    const MODELS: [&str; 2] = [lectern::embed::DEFAULT_MODEL, "paraphrase-MiniLM-L3-v2"];
    let rounds = env_u64("LECTERN_KILL_ROUNDS").unwrap_or(3);
    let seed = env_u64("LECTERN_KILL_SEED").unwrap_or(0x5eed_1dea) | 1;
    let mut rng = seed;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path();
    let faq = shared_pdf("long_debian-faq.en.pdf");
    let (rc, out) = lectern(data, &["ingest", "-c", "faq", &faq.to_string_lossy()]);
    assert_eq!(rc, 0, "{out:?}");

    let mut full = [Duration::ZERO; 2];
    for target in [1, 0] {
        let started = std::time::Instant::now();
        let (rc, out) = lectern(data, &["embedding", "use", MODELS[target]]);
        assert_eq!(rc, 0, "{out:?}");
        full[target] = started.elapsed();
    }
    eprintln!(
        "switch kill test: a whole switch takes {:.2?} to {} and {:.2?} to {}; {rounds} kills, \
         LECTERN_KILL_SEED={seed}",
        full[1], MODELS[1], full[0], MODELS[0]
    );

    let (mut n_killed_mid_way, mut n_after_swap) = (0, 0);
    for round in 1..=rounds {
        let target = usize::try_from(round % 2).expect("0 or 1");
        let (from, to) = (MODELS[1 - target], MODELS[target]);
        let delay = full[target].mul_f64(0.05 + (next(&mut rng) % 1000) as f64 / 1000.0);
        let when = format!("switch to {to}, round {round}, killed after {delay:?}, seed {seed}");
        if run_and_kill(data, &["embedding", "use", to], delay).await {
            n_killed_mid_way += 1;
        }

        if check_one_model_in_use(data, &when, from, to).await == to {
            n_after_swap += 1;
        }
        check(data, &when).await;
        let (rc, out) = lectern(
            data,
            &["search", "-c", "faq", "--k", "3", "how do I upgrade Debian"],
        );
        assert_eq!(rc, 0, "{when}: search after the kill: {out:?}");
        assert_eq!(out[0]["hits"].as_array().map(Vec::len), Some(3), "{when}");

        let (rc, out) = lectern(data, &["embedding", "use", to]);
        assert_eq!(rc, 0, "{when}: the switch run again: {out:?}");
        let when = format!("{when}, after the rerun");
        assert_eq!(check_one_model_in_use(data, &when, from, to).await, to);
        check(data, &when).await;
    }
    eprintln!(
        "switch kill test: {n_killed_mid_way} of {rounds} kills landed mid-switch, \
         {n_after_swap} after the swap"
    );
}

/// After a kill during a switch from `from` to `to`: one of the two is in use, every document
/// records it, the stored vectors are its own (passages embedded again agree), a switch still
/// pending names `to`, and while `from` is in use its index on disk is whole and loaded as it
/// is. Returns the model in use.
async fn check_one_model_in_use(
    data: &std::path::Path,
    when: &str,
    from: &'static str,
    to: &'static str,
) -> &'static str {
    use lectern::embed::{EmbedWorker, ModelFiles, cosine};

    let library = open(data).await;
    let db = library.db();
    let active = if library.embedding().id() == from {
        from
    } else {
        to
    };
    assert_eq!(
        library.embedding().id(),
        active,
        "{when}: neither model in use"
    );
    let recorded: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT embedding_model FROM documents")
            .fetch_all(db.pool())
            .await
            .expect("models of the documents");
    assert_eq!(
        recorded,
        [active],
        "{when}: documents embedded by another model"
    );
    let pending = library.pending_embedding_switch().await.expect("pending");
    if active == to {
        assert_eq!(pending, None, "{when}: switched, yet still pending");
    } else if let Some(pending) = pending {
        assert_eq!(pending.target, to, "{when}");
        assert!(pending.n_done <= pending.n_total, "{when}: {pending:?}");
    }

    let passages: Vec<(i64, String)> = sqlx::query_as("SELECT id, text FROM chunks ORDER BY id")
        .fetch_all(db.pool())
        .await
        .expect("passages");
    let sample: Vec<(i64, String)> = [0, passages.len() / 2, passages.len() - 1]
        .into_iter()
        .map(|i| passages[i].clone())
        .collect();
    let collection = db.collections().await.expect("collections").remove(0);
    let ids: Vec<i64> = sample.iter().map(|(id, _)| *id).collect();
    let stored: std::collections::HashMap<i64, Vec<f32>> = db
        .chunk_vectors(collection.id, Some(&ids))
        .await
        .expect("stored vectors")
        .into_iter()
        .collect();
    let embedder =
        EmbedWorker::onnx(&ModelFiles::new(&models_dir(), active)).expect("the model in use");
    let fresh = embedder
        .embed(sample.iter().map(|(_, text)| text.clone()).collect())
        .await
        .expect("embed");
    for ((id, _), vector) in sample.iter().zip(&fresh) {
        let similarity = cosine(vector, &stored[id]);
        assert!(
            similarity > 0.99,
            "{when}: passage {id} holds a vector of another model than {active} \
             (cosine {similarity:.3})"
        );
    }

    library
        .indexes()
        .get(db, collection.id)
        .await
        .unwrap_or_else(|e| panic!("{when}: the index could not be opened: {e}"));
    if active == from {
        let origin = library.indexes().origin(collection.id).await;
        assert!(
            matches!(origin, Some(lectern::index::IndexOrigin::Loaded { .. })),
            "{when}: the old model's index was not whole: {origin:?}"
        );
    }
    db.close().await;
    active
}
