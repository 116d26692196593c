//! Per-collection approximate nearest-neighbour index over chunk vectors (HNSW, hnsw_rs),
//! persisted beside the database. SQLite stays the source of truth: the index is a cache that
//! is reconciled with the stored vectors when opened and rebuilt when it is missing,
//! unreadable or stale.
//!
//! hnsw_rs cannot delete points, so removed chunks become tombstones filtered out at search
//! time; past [`COMPACT_AT`] tombstones the index is rebuilt in the background. A loaded
//! index borrows the `HnswIo` that read it, so each collection's index lives on a thread that
//! owns both; callers talk to it over a channel.

use crate::ids::CollectionId;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hnsw_rs::prelude::{AnnT, Distance, Hnsw, HnswIo};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::error::{DbError, IndexError};
use crate::store::Db;

/// Share of tombstones among indexed points past which the index is rebuilt.
pub const COMPACT_AT: f64 = 0.2;
const FORMAT_VERSION: u32 = 1;
const BASENAME: &str = "index";

/// Graph parameters. Defaults chosen by measurement (docs/BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexParams {
    pub m: usize,
    pub ef_construction: usize,
    pub ef_search: usize,
    /// Collections of up to this many points are searched exactly ([`EXACT_SEARCH_MAX`]).
    pub exact_up_to: usize,
}

impl Default for IndexParams {
    fn default() -> Self {
        Self {
            m: 16,
            ef_construction: 200,
            ef_search: 96,
            exact_up_to: EXACT_SEARCH_MAX,
        }
    }
}

/// 1 − dot product: the cosine distance of unit vectors, without re-normalising them on
/// every comparison. Clamped at 0 because rounding can push 1 − dot of a vector with itself
/// below zero (anndists' own `DistDot` asserts on that).
#[derive(Debug, Default, Clone, Copy)]
pub struct UnitDot;

impl Distance<f32> for UnitDot {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        (1.0 - dot).max(0.0)
    }
}

type Graph<'a> = Hnsw<'a, f32, UnitDot>;

/// How the index came to be when its collection was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexOrigin {
    /// Read from disk; `added` and `tombstoned` points reconciled with the database.
    Loaded { added: usize, tombstoned: usize },
    /// Built from the stored vectors, with the reason the files were not used.
    Rebuilt { reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexStats {
    pub n_points: usize,
    pub n_tombstones: usize,
    pub generation: u64,
    pub rebuilding: bool,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
struct Meta {
    format: u32,
    dims: usize,
    m: usize,
    ef_construction: usize,
    n_points: usize,
    data_bytes: u64,
    graph_bytes: u64,
}

type Reply<T> = oneshot::Sender<T>;

/// Points added and removed while a background rebuild runs, replayed onto its result.
#[derive(Default)]
struct Journal {
    added: Vec<(i64, Vec<f32>)>,
    removed: Vec<i64>,
}

enum Request {
    Ids(Reply<Vec<i64>>),
    Insert(Vec<(i64, Vec<f32>)>, Reply<()>),
    Remove(Vec<i64>, Reply<()>),
    Search {
        query: Vec<f32>,
        k: usize,
        ef: usize,
        reply: Reply<Vec<(i64, f32)>>,
    },
    Rebuild(Vec<(i64, Vec<f32>)>, Reply<()>),
    RebuildInBackground(Vec<(i64, Vec<f32>)>),
    Swap(Box<Graph<'static>>, HashSet<usize>),
    Save(Reply<Result<(), IndexError>>),
    Stats(Reply<IndexStats>),
}

/// The graph in use: either read from disk (borrowing the reader on the thread's stack) or
/// built in memory.
enum Active<'a> {
    Loaded(Graph<'a>),
    Built(Graph<'static>),
}

macro_rules! with_graph {
    ($active:expr, $g:ident => $body:expr) => {
        match $active {
            Active::Loaded($g) => $body,
            Active::Built($g) => $body,
        }
    };
}

fn new_graph(params: IndexParams, capacity: usize) -> Graph<'static> {
    Hnsw::new(
        params.m,
        capacity.max(1_000),
        16,
        params.ef_construction,
        UnitDot,
    )
}

/// Collections up to this many passages are searched exactly, every vector scored: HNSW's
/// neighbour selection can drop every link into a passage unlike all the others (a short
/// note in a collection of papers), which no graph search then reaches. Measured here, such
/// a note was missing from 4 of 10 builds of a 49-passage index. Up to 20,000 vectors the scan
/// is also the faster (8 ms against the graph's 11 ms there, docs/BENCHMARKS.md); larger
/// collections use the graph.
pub const EXACT_SEARCH_MAX: usize = 20_000;

/// The `k` live points nearest `query` by dot product, scoring every one.
fn exact_search(
    graph: &Graph<'_>,
    query: &[f32],
    k: usize,
    tombstones: &HashSet<usize>,
) -> Vec<(i64, f32)> {
    if graph.get_nb_point() == 0 {
        return Vec::new();
    }
    let mut scored: Vec<(i64, f32)> = graph
        .get_point_indexation()
        .into_iter()
        .filter(|p| !tombstones.contains(&p.get_origin_id()))
        .map(|p| (p.get_origin_id() as i64, dot(p.get_v(), query)))
        .collect();
    if k == 0 {
        return Vec::new();
    }
    if scored.len() > k {
        scored.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
        scored.truncate(k);
    }
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored
}

/// A dot product in eight independent sums, which the compiler turns into vector
/// instructions (one running sum cannot be reordered, so it stays scalar).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0_f32; 8];
    let (a_head, a_tail) = a.split_at(a.len() / 8 * 8);
    let (b_head, b_tail) = b.split_at(a_head.len().min(b.len()));
    for (x, y) in a_head.chunks_exact(8).zip(b_head.chunks_exact(8)) {
        for ((lane, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *lane += x * y;
        }
    }
    let tail: f32 = a_tail.iter().zip(b_tail).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

fn build_graph(params: IndexParams, items: &[(i64, Vec<f32>)]) -> Graph<'static> {
    let graph = new_graph(params, items.len());
    insert_into(&graph, items);
    graph
}

fn insert_into(graph: &Graph<'_>, items: &[(i64, Vec<f32>)]) {
    let refs: Vec<(&Vec<f32>, usize)> = items.iter().map(|(id, v)| (v, *id as usize)).collect();
    graph.parallel_insert(&refs);
}

fn graph_ids(graph: &Graph<'_>) -> HashSet<usize> {
    // hnsw_rs's point iterator panics on an empty graph.
    if graph.get_nb_point() == 0 {
        return HashSet::new();
    }
    graph
        .get_point_indexation()
        .into_iter()
        .map(|p| p.get_origin_id())
        .collect()
}

/// A handle on one collection's index thread; cheap to clone.
#[derive(Clone)]
pub struct CollectionIndex {
    requests: mpsc::Sender<Request>,
}

impl std::fmt::Debug for CollectionIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectionIndex").finish_non_exhaustive()
    }
}

impl CollectionIndex {
    /// Opens the index stored in `dir`, reconciles it with the collection's vectors in the
    /// database, and rebuilds it from them when the files are missing, unreadable or stale.
    pub async fn open(
        dir: PathBuf,
        params: IndexParams,
        dims: usize,
        db: &Db,
        collection_id: CollectionId,
    ) -> Result<(Self, IndexOrigin), IndexError> {
        let (tx, rx) = mpsc::channel(64);
        let (loaded_tx, loaded_rx) = oneshot::channel();
        let weak = tx.downgrade();
        let thread_dir = dir.clone();
        std::thread::Builder::new()
            .name(format!("lectern-index-{collection_id}"))
            .spawn(move || serve(thread_dir, params, dims, rx, weak, loaded_tx))
            .map_err(|e| IndexError::Thread(e.to_string()))?;
        let index = Self { requests: tx };
        // Read while the index thread loads the graph: at 100k+ chunks both take a while.
        let stored: HashSet<i64> = db.chunk_ids(collection_id).await?.into_iter().collect();
        let load_failure = loaded_rx.await.map_err(|_| IndexError::WorkerGone)?;

        let origin = match load_failure {
            Some(reason) => {
                let items = db.chunk_vectors(collection_id, None).await?;
                index.call(|r| Request::Rebuild(items, r)).await?;
                IndexOrigin::Rebuilt { reason }
            }
            None => {
                let indexed: HashSet<i64> = index.call(Request::Ids).await?.into_iter().collect();
                let missing: Vec<i64> = stored.difference(&indexed).copied().collect();
                let extra: Vec<i64> = indexed.difference(&stored).copied().collect();
                if !missing.is_empty() {
                    let items = db.chunk_vectors(collection_id, Some(&missing)).await?;
                    index.call(|r| Request::Insert(items, r)).await?;
                }
                if !extra.is_empty() {
                    index.call(|r| Request::Remove(extra.clone(), r)).await?;
                }
                IndexOrigin::Loaded {
                    added: missing.len(),
                    tombstoned: extra.len(),
                }
            }
        };
        if origin
            != (IndexOrigin::Loaded {
                added: 0,
                tombstoned: 0,
            })
        {
            index.save().await?;
        }
        Ok((index, origin))
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, IndexError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(make(tx))
            .await
            .map_err(|_| IndexError::WorkerGone)?;
        rx.await.map_err(|_| IndexError::WorkerGone)
    }

    pub async fn insert(&self, items: Vec<(i64, Vec<f32>)>) -> Result<(), IndexError> {
        self.call(|r| Request::Insert(items, r)).await
    }

    pub async fn remove(&self, chunk_ids: Vec<i64>) -> Result<(), IndexError> {
        self.call(|r| Request::Remove(chunk_ids, r)).await
    }

    /// The `k` nearest live chunks as (chunk id, cosine similarity), best first.
    pub async fn search(
        &self,
        query: Vec<f32>,
        k: usize,
        ef: usize,
    ) -> Result<Vec<(i64, f32)>, IndexError> {
        self.call(|reply| Request::Search {
            query,
            k,
            ef,
            reply,
        })
        .await
    }

    pub async fn save(&self) -> Result<(), IndexError> {
        self.call(Request::Save).await?
    }

    pub async fn stats(&self) -> Result<IndexStats, IndexError> {
        self.call(Request::Stats).await
    }

    /// Rebuilds without tombstones when they pass [`COMPACT_AT`] of the points. With `wait`
    /// false the current index keeps serving while the new one is built from the stored
    /// vectors on another thread; with `wait` true (a command-line run that is about to
    /// exit) it returns once the new index is in place.
    pub async fn compact_if_needed(
        &self,
        db: &Db,
        collection_id: CollectionId,
        wait: bool,
    ) -> Result<bool, IndexError> {
        let stats = self.stats().await?;
        if stats.rebuilding || (stats.n_tombstones as f64) <= COMPACT_AT * stats.n_points as f64 {
            return Ok(false);
        }
        let items = db.chunk_vectors(collection_id, None).await?;
        if wait {
            self.call(|r| Request::Rebuild(items, r)).await?;
        } else {
            self.requests
                .send(Request::RebuildInBackground(items))
                .await
                .map_err(|_| IndexError::WorkerGone)?;
        }
        Ok(true)
    }

    /// Rebuilds the graph from the vectors stored in SQLite (the user's "re-index"): the
    /// current graph serves until the new one is in place, then it is saved.
    pub async fn rebuild(&self, db: &Db, collection_id: CollectionId) -> Result<(), IndexError> {
        let items = db.chunk_vectors(collection_id, None).await?;
        self.call(|r| Request::Rebuild(items, r)).await?;
        self.save().await
    }
}

fn current_generation(dir: &Path) -> Option<(u64, PathBuf)> {
    let name = std::fs::read_to_string(dir.join("current")).ok()?;
    let generation: u64 = name.trim().strip_prefix("gen-")?.parse().ok()?;
    Some((generation, dir.join(name.trim())))
}

/// Checks the files against their metadata before hnsw_rs reads them: its loader asserts
/// (panics) on some damage instead of returning an error.
fn check_files(gen_dir: &Path, params: IndexParams, dims: usize) -> Result<Meta, String> {
    let meta: Meta = std::fs::read(gen_dir.join("meta.json"))
        .map_err(|e| format!("no index metadata: {e}"))
        .and_then(|b| {
            serde_json::from_slice(&b).map_err(|e| format!("unreadable index metadata: {e}"))
        })?;
    if meta.format != FORMAT_VERSION || meta.dims != dims || meta.m != params.m {
        return Err("index made with other settings".into());
    }
    let size = |ext: &str| {
        std::fs::metadata(gen_dir.join(format!("{BASENAME}.hnsw.{ext}"))).map(|m| m.len())
    };
    match (size("data"), size("graph")) {
        (Ok(d), Ok(g)) if d == meta.data_bytes && g == meta.graph_bytes => Ok(meta),
        (Ok(_), Ok(_)) => Err("index files truncated or changed".into()),
        _ => Err("index files missing".into()),
    }
}

/// Reads the graph; hnsw_rs panics on some damage, which is caught here.
fn load_graph<'a>(reader: &'a mut HnswIo, meta: &Meta) -> Result<Graph<'a>, String> {
    // Moving the reference into the closure makes it FnOnce, so the graph may borrow it.
    let load = move || {
        let reader = reader;
        reader.load_hnsw::<f32, UnitDot>()
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(load)) {
        Ok(Ok(graph)) if graph.get_nb_point() == meta.n_points => Ok(graph),
        Ok(Ok(_)) => Err("index point count differs from its metadata".to_owned()),
        Ok(Err(e)) => Err(format!("index unreadable: {e}")),
        Err(_) => Err("index damaged (the reader gave up)".to_owned()),
    }
}

fn serve(
    dir: PathBuf,
    params: IndexParams,
    dims: usize,
    mut rx: mpsc::Receiver<Request>,
    weak: mpsc::WeakSender<Request>,
    loaded_tx: Reply<Option<String>>,
) {
    let (mut generation, gen_dir) = current_generation(&dir).unwrap_or((0, dir.join("gen-0")));
    let mut reader = HnswIo::new(&gen_dir, BASENAME);
    let loaded =
        check_files(&gen_dir, params, dims).and_then(|meta| load_graph(&mut reader, &meta));
    let (mut active, failure) = match loaded {
        Ok(graph) => (Active::Loaded(graph), None),
        Err(reason) => (Active::Built(new_graph(params, 0)), Some(reason)),
    };
    let mut ids: HashSet<usize> = with_graph!(&active, g => graph_ids(g));
    let mut tombstones: HashSet<usize> = HashSet::new();
    // Changes made while a background rebuild runs, replayed onto the new graph.
    let mut journal: Option<Journal> = None;
    let _ = loaded_tx.send(failure);

    while let Some(request) = rx.blocking_recv() {
        match request {
            Request::Ids(reply) => {
                let live = ids.difference(&tombstones).map(|&id| id as i64).collect();
                let _ = reply.send(live);
            }
            Request::Insert(items, reply) => {
                // A chunk id is never reused, so an id already present is the same vector.
                let fresh: Vec<_> = items
                    .into_iter()
                    .filter(|(id, _)| !ids.contains(&(*id as usize)))
                    .collect();
                with_graph!(&active, g => insert_into(g, &fresh));
                ids.extend(fresh.iter().map(|(id, _)| *id as usize));
                if let Some(journal) = journal.as_mut() {
                    journal.added.extend(fresh);
                }
                let _ = reply.send(());
            }
            Request::Remove(chunk_ids, reply) => {
                tombstones.extend(
                    chunk_ids
                        .iter()
                        .map(|&id| id as usize)
                        .filter(|id| ids.contains(id)),
                );
                if let Some(journal) = journal.as_mut() {
                    journal.removed.extend(chunk_ids);
                }
                let _ = reply.send(());
            }
            Request::Search {
                query,
                k,
                ef,
                reply,
            } => {
                if ids.len() <= params.exact_up_to {
                    let hits = with_graph!(&active, g => exact_search(g, &query, k, &tombstones));
                    let _ = reply.send(hits);
                    continue;
                }
                let hits = with_graph!(&active, g => {
                    let filter = |id: &usize| !tombstones.contains(id);
                    let want = k + tombstones.len().min(k * 4);
                    g.search_filter(&query, want, ef.max(want), Some(&filter))
                });
                let hits = hits
                    .into_iter()
                    .filter(|n| !tombstones.contains(&n.d_id))
                    .take(k)
                    .map(|n| (n.d_id as i64, 1.0 - n.distance))
                    .collect();
                let _ = reply.send(hits);
            }
            Request::Rebuild(items, reply) => {
                active = Active::Built(build_graph(params, &items));
                ids = items.iter().map(|(id, _)| *id as usize).collect();
                tombstones.clear();
                journal = None;
                let _ = reply.send(());
            }
            Request::RebuildInBackground(items) => {
                journal = Some(Journal::default());
                let weak = weak.clone();
                let _ = std::thread::Builder::new()
                    .name("lectern-index-build".into())
                    .spawn(move || {
                        let graph = build_graph(params, &items);
                        let ids = items.iter().map(|(id, _)| *id as usize).collect();
                        if let Some(tx) = weak.upgrade() {
                            let _ = tx.blocking_send(Request::Swap(Box::new(graph), ids));
                        }
                    });
            }
            Request::Swap(graph, new_ids) => {
                let Journal { added, removed } = journal.take().unwrap_or_default();
                let added: Vec<_> = added
                    .into_iter()
                    .filter(|(id, _)| !new_ids.contains(&(*id as usize)))
                    .collect();
                insert_into(&graph, &added);
                active = Active::Built(*graph);
                ids = new_ids;
                ids.extend(added.iter().map(|(id, _)| *id as usize));
                tombstones = removed
                    .into_iter()
                    .map(|id| id as usize)
                    .filter(|id| ids.contains(id))
                    .collect();
            }
            Request::Save(reply) => {
                let result = with_graph!(&active, g => save(&dir, generation + 1, g, params, dims));
                if result.is_ok() {
                    generation += 1;
                }
                let _ = reply.send(result);
            }
            Request::Stats(reply) => {
                let _ = reply.send(IndexStats {
                    n_points: ids.len(),
                    n_tombstones: tombstones.len(),
                    generation,
                    rebuilding: journal.is_some(),
                });
            }
        }
    }
}

/// Writes a new generation beside the current one and switches to it with an atomic rename,
/// so a crash at any point leaves either the old or the new index whole.
fn save(
    dir: &Path,
    generation: u64,
    graph: &Graph<'_>,
    params: IndexParams,
    dims: usize,
) -> Result<(), IndexError> {
    let io = |e: std::io::Error| IndexError::Io {
        path: dir.to_owned(),
        source: e,
    };
    let name = format!("gen-{generation}");
    let gen_dir = dir.join(&name);
    let _ = std::fs::remove_dir_all(&gen_dir);
    std::fs::create_dir_all(&gen_dir).map_err(io)?;
    if graph.get_nb_point() > 0 {
        graph
            .file_dump(&gen_dir, BASENAME)
            .map_err(|e| IndexError::Dump(e.to_string()))?;
    } else {
        // hnsw_rs cannot dump an empty graph; an empty index is "missing files" on load and
        // rebuilt from zero vectors, which costs nothing.
        return Ok(());
    }
    let size = |ext: &str| {
        std::fs::metadata(gen_dir.join(format!("{BASENAME}.hnsw.{ext}"))).map(|m| m.len())
    };
    let meta = Meta {
        format: FORMAT_VERSION,
        dims,
        m: params.m,
        ef_construction: params.ef_construction,
        n_points: graph.get_nb_point(),
        data_bytes: size("data").map_err(io)?,
        graph_bytes: size("graph").map_err(io)?,
    };
    let meta_json = serde_json::to_vec(&meta).map_err(|e| IndexError::Dump(e.to_string()))?;
    std::fs::write(gen_dir.join("meta.json"), meta_json).map_err(io)?;
    for file in ["index.hnsw.data", "index.hnsw.graph", "meta.json"] {
        std::fs::File::open(gen_dir.join(file))
            .and_then(|f| f.sync_all())
            .map_err(io)?;
    }
    let tmp = dir.join("current.tmp");
    std::fs::write(&tmp, &name).map_err(io)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    std::fs::rename(&tmp, dir.join("current")).map_err(io)?;
    // Older generations are no longer referenced.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let n = entry.file_name().to_string_lossy().into_owned();
            if n.starts_with("gen-") && n != name {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(())
}

/// The open indexes of a library, one per collection, opened on first use.
#[derive(Debug, Clone)]
pub struct IndexSet {
    root: PathBuf,
    params: IndexParams,
    dims: usize,
    open: Arc<Mutex<std::collections::HashMap<CollectionId, (CollectionIndex, IndexOrigin)>>>,
}

impl IndexSet {
    pub fn new(root: PathBuf, params: IndexParams, dims: usize) -> Self {
        Self {
            root,
            params,
            dims,
            open: Arc::default(),
        }
    }

    pub fn params(&self) -> IndexParams {
        self.params
    }

    pub fn dir(&self, collection_id: CollectionId) -> PathBuf {
        self.root.join(collection_id.to_string())
    }

    /// The collection's index, opening (and if needed rebuilding) it on first use.
    pub async fn get(
        &self,
        db: &Db,
        collection_id: CollectionId,
    ) -> Result<CollectionIndex, IndexError> {
        let mut open = self.open.lock().await;
        if let Some((index, _)) = open.get(&collection_id) {
            return Ok(index.clone());
        }
        let (index, origin) = CollectionIndex::open(
            self.dir(collection_id),
            self.params,
            self.dims,
            db,
            collection_id,
        )
        .await?;
        open.insert(collection_id, (index.clone(), origin));
        Ok(index)
    }

    /// How the collection's index came to be when it was opened: read from disk, or rebuilt
    /// (and why), so a shell can tell the user.
    pub async fn origin(&self, collection_id: CollectionId) -> Option<IndexOrigin> {
        self.open
            .lock()
            .await
            .get(&collection_id)
            .map(|(_, origin)| origin.clone())
    }

    /// Forgets a deleted collection's index and its files.
    pub async fn drop_collection(&self, collection_id: CollectionId) {
        self.open.lock().await.remove(&collection_id);
        let _ = std::fs::remove_dir_all(self.dir(collection_id));
    }

    /// Saves every open index (after an ingest, before exit).
    pub async fn save_all(&self) -> Result<(), IndexError> {
        let open: Vec<CollectionIndex> = self
            .open
            .lock()
            .await
            .values()
            .map(|(index, _)| index.clone())
            .collect();
        for index in open {
            index.save().await?;
        }
        Ok(())
    }
}

impl From<DbError> for IndexError {
    fn from(e: DbError) -> Self {
        IndexError::Db(Box::new(e))
    }
}
