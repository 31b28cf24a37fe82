//! The page shell and escaping.

use std::fmt::Write as _;

use utfall_disclosure::Policy;

/// The report style sheet (screen and A4 print).
pub const STYLE: &str = include_str!("report.css");

/// Every page's Content-Security-Policy: nothing is fetched and nothing runs;
/// inline style sheets and `data:` images (the favicon) are all a page uses.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// Escape text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A table cell holding a count, as the policy lets it be shown (`<T` for a
/// small one). The class `count` marks every count on every page.
pub fn count_cell(policy: &Policy, n: u64) -> String {
    let class = if policy.is_small(n) { "num count withheld" } else { "num count" };
    format!("<td class=\"{class}\">{}</td>", escape(&policy.count(n)))
}

/// A count inside running text, as the policy lets it be shown (marked like
/// [`count_cell`]).
pub fn count_span(policy: &Policy, n: u64) -> String {
    format!("<span class=\"count\">{}</span>", escape(&policy.count(n)))
}

/// One HTML page: the shell every output shares.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    /// `lang` of the page (`sv` or `en`).
    pub lang: &'a str,
    /// The title (plain text; escaped here).
    pub title: &'a str,
    /// Style rules added after the shared sheet.
    pub extra_style: &'a str,
}

impl Page<'_> {
    /// The whole document around `body` (HTML made by the caller).
    pub fn render(&self, body: &str) -> String {
        let mut html = String::with_capacity(body.len() + STYLE.len() + 1024);
        let _ = write!(
            html,
            "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"generator\" content=\"utfall {}\">\n<title>{}</title>\n\
             <link rel=\"icon\" href=\"data:,\">\n<style>\n{STYLE}{}</style>\n</head>\n<body>\n",
            escape(self.lang),
            env!("CARGO_PKG_VERSION"),
            escape(self.title),
            self.extra_style,
        );
        html.push_str(body);
        html.push_str("</body>\n</html>\n");
        html
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape("<b>\"a\" & 'b'</b>"), "&lt;b&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/b&gt;");
    }

    #[test]
    fn every_page_forbids_scripts() {
        let html = Page { lang: "sv", title: "<x>", extra_style: "" }.render("<p>hej</p>\n");
        assert!(html.contains("Content-Security-Policy") && html.contains("default-src 'none'"));
        assert!(html.contains("<title>&lt;x&gt;</title>") && html.ends_with("</html>\n"));
        assert!(!CSP.contains("script-src"), "scripts fall back to default-src 'none'");
    }

    #[test]
    fn counts_follow_the_policy() {
        let p = Policy::new(10, utfall_disclosure::Source::Override).unwrap();
        assert_eq!(count_cell(&p, 9), "<td class=\"num count withheld\">&lt;10</td>");
        assert_eq!(count_cell(&p, 12), "<td class=\"num count\">12</td>");
    }
}
