//! `switchboard-bench report`: the static, self-contained dashboard (`bench/dashboard/index.html`).
//!
//! Layout:
//! - `svg`: the chart writer (axes, ticks, units, legend).
//! - `charts`: throughput bars, latency percentile curves, memory per connection.
//! - `history`: Switchboard's figures across revisions with regressions highlighted.
//! - `scenarios`: the switchboard.v1 scenarios' deliver latency, tables and history.
//! - `page`: the HTML page around the charts, with the tables and the skipped list.
//!
//! The page has no script and loads nothing: every chart is inline SVG generated here, so it opens
//! offline and renders the same in any browser.

pub mod charts;
pub mod history;
pub mod page;
pub mod scenarios;
pub mod svg;

pub use page::render;
