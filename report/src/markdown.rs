//! Prose written by people (notebook Markdown), rendered and sanitised.

use pulldown_cmark::{Options, Parser, html::push_html};

/// Markdown to HTML, then cleaned with ammonia's default allow-list: no
/// `<script>`, no event handlers, no `javascript:` links, no styles (so no
/// column alignment in prose tables) or frames; the elements of ordinary
/// prose, tables and footnotes stay.
pub fn markdown(text: &str) -> String {
    let mut raw = String::new();
    push_html(&mut raw, Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES));
    ammonia::Builder::default()
        .add_tag_attributes("td", &["align"])
        .add_tag_attributes("th", &["align"])
        .clean(&raw)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_handlers_are_removed_prose_stays() {
        let html = markdown(
            "# Rubrik\n\nText med **fetstil** och [länk](https://example.org).\n\n\
             <script>alert(1)</script>\n\n<img src=x onerror=\"alert(2)\">\n\n\
             [klick](javascript:alert(3))\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n",
        );
        assert!(!html.contains("<script") && !html.contains("alert(1)"), "{html}");
        assert!(!html.contains("onerror") && !html.contains("javascript:"), "{html}");
        assert!(html.contains("<h1>Rubrik</h1>") && html.contains("<strong>fetstil</strong>"), "{html}");
        assert!(html.contains("<table>") && html.contains("<td>2</td>"), "{html}");
        // What is left of the image cannot load anything: the page's policy allows data: images only.
        assert!(!html.contains("<img src=\"x\" on"), "{html}");
    }
}
