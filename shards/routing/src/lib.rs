//! The routing/AI logic: everything the dedicated routing shard decides, as pure single-threaded code.
//!
//! Nothing here does I/O or reads a clock: time comes in as an argument (`now_ms`), randomness comes from a
//! seeded generator, and maps are ordered (`BTreeMap`), so the same inputs always give the same decisions.
//! That is what lets the router be replayed from its event log and tested in simulated time.
//!
//! # Layout
//!
//! - [`kb`]: the knowledge base (intents, utterances, answer templates, slots) parsed from TOML and validated.
//! - [`labelled`]: labelled evaluation sets (the held-out file) parsed from TOML.
//! - [`text`]: normalisation (full-width folding, lowercase), language detection, hashed n-gram features.
//! - [`extract`]: hand-written slot extractors (order number, e-mail, phone, video id, amount, date).
//! - [`sentiment`]: the bilingual lexicon sentiment scorer (dictionary words, reporting vocabulary, anger
//!   cues), a score in `[-1, 1]`.
//! - [`brain`]: the [`brain::Brain`] trait, so another model can be plugged in.
//! - [`ngram`]: the built-in [`ngram::NgramBrain`], multinomial logistic regression on hashed n-grams.
//! - [`embed`]: an optional multilingual sentence encoder (USE v3) in pure Rust, weights fetched by a
//!   setup script.
//! - [`hybrid`]: the [`hybrid::HybridBrain`], the n-gram model with sentence embeddings as extra features.
//! - [`model`]: which model runs (`[routing] model`: the hybrid when its weights are found), and each
//!   model's threshold and training settings as cross-validation chose them.
//! - [`dialogue`]: per-conversation state, slot filling, and the bot's [`dialogue::Decision`].
//! - [`ticket`]: the structured ticket and the conversation summary handed to humans.
//! - [`rng`]: a small seeded PCG generator (no `rand` crate).
//! - [`agents`]: agents, groups, presence and capacity.
//! - [`queue`]: per-group waiting queues, highest priority then longest waiting first.
//! - [`events`]: the router's inputs (its replayable event log) and its recorded decisions.
//! - [`router`]: assignment of waiting conversations to agents, with recorded score components.
//! - [`shard`]: the routing shard's sans-IO core that the routing thread drives: per-tenant routers, agent
//!   connections, bot answers, handoffs and assignments as named inputs and outputs.
//! - [`eval`]: correct, wrong and handoff rates and macro-F1, overall and per language, on predictions.
//! - [`cv`]: k-fold cross-validation on the KB (translation pairs in one fold), the threshold rule and the
//!   choice of training settings.
//! - [`overlap`]: the near-duplicate guard between an evaluation set and the training utterances.
//! - [`cli`]: the `switchboard ai …` subcommand.
//!
//! # Decisions
//!
//! - The bot never guesses: below the confidence threshold (by default the one cross-validation chose for
//!   the model that runs: 0.85 for the hybrid, 0.60 for the n-gram model) or on strongly negative sentiment
//!   it hands the conversation to a human, with a summary of what it understood. A message with no word or
//!   phrase the model trained on gets no confident answer (the minimum-evidence rule in [`ngram`]); a
//!   confident `out_of_scope` intent is declined with its answer, not handed off.
//! - The classifier is trained at start-up from the knowledge base in well under a second, so the KB file is
//!   the single source of truth and there is no model artefact to version.
//! - Routing scores follow the background article: `0.6 × customer value + 0.3 × skill match + 0.1 × random`,
//!   minus a load penalty; every component is recorded so an operator can see why an agent was chosen.

#![forbid(unsafe_code)]

pub mod agents;
pub mod brain;
pub mod cli;
pub mod cv;
pub mod dialogue;
pub mod embed;
pub mod eval;
pub mod events;
pub mod extract;
pub mod hybrid;
pub mod kb;
pub mod labelled;
pub mod model;
pub mod ngram;
pub mod overlap;
pub mod queue;
pub mod rng;
pub mod router;
pub mod sentiment;
pub mod shard;
pub mod text;
pub mod ticket;
