//! Output writers: text for people, JSON for automation, the table report, the shared reports
//! (HTML, Markdown, SARIF) drawn from the JSON report's model, and the text of `diagnose` and
//! `explain`.

pub mod diagnose;
pub mod diff;
pub mod explain;
pub mod html;
pub mod json;
pub mod markdown;
pub mod merge;
pub mod plan;
pub mod sanitize;
pub mod sarif;
pub mod saved;
pub mod shared;
pub mod table;
pub mod text;

pub use shared::Doc;

/// The shared formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedFormat {
    Html,
    Markdown,
    Sarif,
}

/// Write a report model in one of the shared formats.
pub fn render_shared(doc: &Doc<'_>, format: SharedFormat) -> Result<String, serde_json::Error> {
    match format {
        SharedFormat::Html => Ok(html::render(doc)),
        SharedFormat::Markdown => Ok(markdown::render(doc)),
        SharedFormat::Sarif => sarif::render(doc),
    }
}
