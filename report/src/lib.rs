//! The report kit: every HTML page utfall writes (notebooks, dashboards,
//! the model card, contract reports) is made with it.
//!
//! - [`Page`]: the one page shell: the style sheet (screen and A4 print), a
//!   Content-Security-Policy that forbids every script and every request
//!   (the pages need none), the generator stamp.
//! - [`escape`] for values from the data; [`markdown`] for prose written by
//!   people, rendered and then sanitised with an allow-list (ammonia), so a
//!   notebook cannot put a live script or event handler into a page.
//! - [`format`]: numbers, percentages, money and dates in Swedish and
//!   English ([`Lang`]); [`count_cell`]: a count as the disclosure policy
//!   allows it to be shown, marked so that audits can find every count.
//! - [`chart`]: the plotters helpers every chart shares (palette, fonts,
//!   legend, SVG with an accessible name).

pub mod chart;
pub mod format;
mod html;
mod markdown;

pub use format::Lang;
pub use html::{CSP, Page, STYLE, count_cell, count_span, escape};
pub use markdown::markdown;
pub use utfall_disclosure::{Policy, WITHHELD};
