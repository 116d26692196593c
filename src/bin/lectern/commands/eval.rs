//! `lectern eval`: retrieval on a BEIR-layout dataset, or answers to a labelled set asked of
//! a collection.

use lectern::answer::AskOptions;
use lectern::retrieve::SearchMode;
use lectern::{Error, Library, Paths};

use crate::EvalMode;
use crate::output::Out;

/// What `lectern eval --dataset` was asked to do.
pub struct RetrievalEval<'a> {
    pub dataset: &'a std::path::Path,
    pub k: Option<usize>,
    pub mode: &'a [EvalMode],
    pub keyword_weight: &'a [f32],
    pub embedding_model: Option<String>,
}

pub async fn retrieval(library: &Library, e: RetrievalEval<'_>, out: &Out) -> Result<(), Error> {
    let RetrievalEval {
        dataset,
        k,
        mode,
        keyword_weight,
        embedding_model,
    } = e;
    let k = k.unwrap_or(10);
    let modes: Vec<SearchMode> = if mode.contains(&EvalMode::All) {
        vec![SearchMode::Hybrid, SearchMode::Vector, SearchMode::Keyword]
    } else {
        mode.iter()
            .map(|m| match m {
                EvalMode::Vector => SearchMode::Vector,
                EvalMode::Keyword => SearchMode::Keyword,
                EvalMode::Hybrid | EvalMode::All => SearchMode::Hybrid,
            })
            .collect()
    };
    let data = lectern::eval::Dataset::load(dataset)?;
    out.note(&format!(
        "indexing {} passages, then {} queries in {} mode(s)",
        data.corpus.len(),
        data.queries.len(),
        modes.len()
    ));
    // A throwaway library: the evaluation never touches the user's collections.
    let scratch = std::env::temp_dir().join(format!("lectern-eval-{}", std::process::id()));
    let paths = Paths {
        data_dir: scratch.clone(),
        models_dir: library.paths().models_dir.clone(),
    };
    let result = async {
        let model = embedding_model.unwrap_or_else(|| library.embedding().id());
        lectern::embed::embedding_model_spec(&model)?;
        let throwaway = Library::open_with_embedding_model(paths, &model).await?;
        throwaway
            .evaluate_retrieval(&data, k, &modes, keyword_weight)
            .await
    }
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    out.eval_report(&result?);
    Ok(())
}

/// What `lectern eval --answers` was asked to do.
pub struct AnswerEval<'a> {
    pub qa: &'a std::path::Path,
    pub collection: &'a str,
    pub model: Option<&'a str>,
    pub n: Option<usize>,
    pub seed: u64,
    /// A file of off-topic questions, `none`, or `None` for the built-in ones.
    pub off_topic: Option<&'a str>,
    pub k: Option<usize>,
    /// Pre-read each question without its last N words before asking it.
    pub preread: Option<usize>,
}

pub async fn answers(library: &Library, e: AnswerEval<'_>, out: &Out) -> Result<(), Error> {
    use lectern::eval::answers::{self, AnswerEvalEvent};
    let collection = library.collection_named(e.collection).await?;
    let items = answers::load_qa(e.qa)?;
    let items = answers::sample(&items, e.n, e.seed);
    let off_topic: Vec<String> = match e.off_topic {
        None => answers::OFF_TOPIC_QUESTIONS
            .iter()
            .map(|q| (*q).to_owned())
            .collect(),
        Some("none") => Vec::new(),
        Some(path) => answers::load_qa(std::path::Path::new(path))?
            .into_iter()
            .map(|item| item.question)
            .collect(),
    };
    let answerer = library.answerer(e.model).await?;
    let options = AskOptions {
        history_turns: 0,
        ..super::ask::ask_options(library, collection.id, None, e.k).await?
    };
    out.note(&format!(
        "asking {} questions and {} off-topic ones of {:?} through {} (k = {})",
        items.len(),
        off_topic.len(),
        e.collection,
        answerer.llm().model_name(),
        options.k
    ));
    let report = answers::evaluate_answers(
        &answerer,
        &options,
        &items,
        &answers::EvalPlan {
            off_topic,
            preread: e.preread,
            ..Default::default()
        },
        |event| match event {
            AnswerEvalEvent::Question { done, of, outcome } => out.eval_question(done, of, outcome),
            AnswerEvalEvent::OffTopic { done, of, outcome } => {
                out.eval_off_topic(done, of, outcome)
            }
        },
    )
    .await?;
    out.eval_answers_report(&report, options.k);
    Ok(())
}
