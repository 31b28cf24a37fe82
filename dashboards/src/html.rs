//! One dashboard page: the targets overview, then per indicator its trend,
//! funnel plot and splits, then the distributions; every chart with the table
//! it was drawn from, its definition version, period and the register's date.
//! Rows of every table carry `data-unit` (a unit code, or `*` for the
//! municipality's aggregates) so a page's contents can be audited.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use utfall_disclosure::{WITHHELD, bins};
use utfall_register::schema::{PeriodType, Split, SplitOf};
use utfall_register::store::Manifest;
use utfall_report::{Page as Shell, escape};

use crate::chart::{self, Estimate, FunnelPoint, Scale, Series};
use crate::data::{Bins, Cell, Data, DistributionData, Revision, TargetRow, municipality};
use crate::funnel::{Centre, LEVELS, Position};
use crate::spec::{IndicatorRef, Spec};
use crate::{DashboardError, Lang, Scope};

/// The municipality's rows in `data-unit`.
const ALL: &str = "*";
const EXTRA_STYLE: &str = include_str!("dashboard.css");

struct Page<'a> {
    data: &'a Data,
    scope: &'a Scope,
    lang: Lang,
    as_of: &'a str,
    catalogue: &'a str,
    html: String,
    figures: usize,
}

/// Render one page.
pub fn render(
    data: &Data,
    spec: &Spec,
    scope: &Scope,
    lang: Lang,
    manifest: &Manifest,
) -> Result<String, DashboardError> {
    let catalogue = manifest.indicators.as_ref().map_or("?", |r| r.catalogue_version.as_str());
    let mut page = Page { data, scope, lang, as_of: &manifest.as_of, catalogue, html: String::new(), figures: 0 };
    page.targets();
    for (i, indicator) in spec.indicators.iter().enumerate() {
        page.indicator(i, indicator, spec)?;
    }
    page.distributions()?;
    Ok(wrap(&page, spec, manifest))
}

impl Page<'_> {
    fn l(&self, sv: &'static str, en: &'static str) -> &'static str {
        self.lang.pick(sv, en)
    }

    fn name(&self, cell: &Cell) -> String {
        let name = if self.lang == Lang::Sv { &cell.name_sv } else { &cell.name_en };
        match (&cell.indicator.instrument, &cell.indicator.domain) {
            (Some(i), Some(d)) => format!("{name} ({i}, {d})"),
            _ => name.clone(),
        }
    }

    /// A value as shown: a share in per cent with one decimal, a mean with one or two.
    fn value(&self, v: f64, share: bool) -> String {
        shown(self.lang, v, share)
    }

    fn interval(&self, ci: Option<(f64, f64)>, share: bool) -> String {
        ci.map_or_else(|| WITHHELD.into(), |(l, h)| format!("{} – {}", self.value(l, share), self.value(h, share)))
    }

    /// A published count (marked for the disclosure audit), or `..`.
    fn count(&self, n: Option<i64>) -> String {
        format!("<span class=\"count\">{}</span>", n.map_or_else(|| WITHHELD.into(), |n| n.to_string()))
    }

    /// "Definition x v1 · period · register as of".
    fn stamp(&self, id: &str, version: i32, period: &str) -> String {
        format!(
            "{} <code>{}</code> v{version} ({} {}) · {} {} · {} {}",
            self.l("Definition", "Definition"),
            escape(id),
            self.l("katalog", "catalogue"),
            escape(self.catalogue),
            self.l("period", "period"),
            escape(period),
            self.l("registret per", "register as of"),
            escape(self.as_of)
        )
    }

    /// A figure: the chart, a caption, and the table behind it.
    fn figure(&mut self, title: &str, svg: &str, caption: &str, table: &str) {
        self.figures += 1;
        let _ = write!(
            self.html,
            "<figure class=\"chart\" id=\"fig-{n}\">\n<h3>{}</h3>\n{svg}\n<figcaption>{caption}</figcaption>\n\
             <details class=\"data\"><summary>{}</summary>\n<div class=\"scroll\">{table}</div></details>\n</figure>\n",
            escape(title),
            self.l("Tabell bakom diagrammet", "Table behind the chart"),
            n = self.figures
        );
    }

    fn targets(&mut self) {
        let rows = latest_targets(&self.data.targets, self.scope);
        let _ = writeln!(
            self.html,
            "<section id=\"targets\">\n<h2>{}</h2>",
            self.l("Målen i översikt", "Targets at a glance")
        );
        if rows.is_empty() {
            let _ = writeln!(self.html, "<p>{}</p></section>", self.l("Inga mål är satta.", "No targets are set."));
            return;
        }
        let count = |s: &str| rows.iter().filter(|r| r.status == s).count();
        let _ = writeln!(
            self.html,
            "<p class=\"tally\"><span class=\"status met\">✔ {} {}</span> <span class=\"status not_met\">✖ {} {}</span> \
             <span class=\"status not_measurable\">? {} {}</span></p>\n<p class=\"note\">{}</p>",
            count("met"),
            self.l("uppnådda", "met"),
            count("not_met"),
            self.l("ej uppnådda", "not met"),
            count("not_measurable"),
            self.l("ej mätbara", "not measurable"),
            self.l(
                "Uppnått: hela 95-procentiga konfidensintervallet ligger på målets sida. Ej uppnått: hela intervallet ligger på andra sidan. \
                 Ej mätbart: värdet är dolt av röjandeskyddet (..: för få klienter, eller dolt för att en annan cell inte ska kunna räknas fram), \
                 inga data, eller intervallet spänner över målet.",
                "Met: the whole 95% confidence interval is on the target's side. Not met: the whole interval is on the other side. \
                 Not measurable: the value is withheld by disclosure control (..: too few clients, or withheld so that another cell \
                 cannot be worked out), no data, or the interval straddles the target."
            )
        );
        let _ = writeln!(
            self.html,
            "<div class=\"scroll\"><table class=\"overview\"><thead><tr><th>{}</th><th>{}</th><th class=\"num\">n</th>\
             <th class=\"num\">{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>",
            self.l("Enhet", "Unit"),
            self.l("Period", "Period"),
            self.l("Värde", "Value"),
            self.l("95 % konfidensintervall", "95% confidence interval"),
            self.l("Status", "Status"),
            self.l("Trend mot föregående period", "Trend since the previous period")
        );
        let mut current = "";
        for r in rows {
            let share = r.share;
            if r.target_id != current {
                if !current.is_empty() {
                    self.html.push_str("</tbody>");
                }
                current = &r.target_id;
                let goal = format!(
                    "{} {}",
                    if r.at_least { self.l("minst", "at least") } else { self.l("högst", "at most") },
                    self.value(r.target, share)
                );
                let _ = writeln!(
                    self.html,
                    "<tbody><tr class=\"group\"><th colspan=\"7\">{} <span class=\"note\">· {goal} · <code>{}</code> v{}</span></th></tr>",
                    escape(if r.description.is_empty() { &r.target_id } else { &r.description }),
                    escape(&r.indicator.id),
                    r.version,
                );
            }
            let (symbol, status) = match r.status.as_str() {
                "met" => ("✔", self.l("uppnått", "met")),
                "not_met" => ("✖", self.l("ej uppnått", "not met")),
                _ => ("?", self.l("ej mätbart", "not measurable")),
            };
            let reason = match r.reason.as_deref() {
                Some("too_few") => self.withheld_why(r.suppression.as_deref()),
                Some("no_data") => self.l("inga data", "no data"),
                Some("interval_straddles_target") => {
                    self.l("intervallet spänner över målet", "interval straddles the target")
                }
                _ => "",
            };
            let trend = match r.trend.as_str() {
                "improving" => self.l("↗ förbättring", "↗ improving"),
                "worsening" => self.l("↘ försämring", "↘ worsening"),
                "no_clear_change" => self.l("→ ingen säker förändring", "→ no clear change"),
                _ => self.l("ej mätbar", "not measurable"),
            };
            let _ = writeln!(
                self.html,
                "<tr data-unit=\"{unit}\"><td>{unit}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"status {}\">{symbol} {status}{}</td><td>{trend}</td></tr>",
                escape(&r.period),
                self.count(r.n),
                r.value.map_or_else(|| WITHHELD.into(), |v| self.value(v, share)),
                self.interval(r.ci, share),
                escape(&r.status),
                if reason.is_empty() { String::new() } else { format!("<br><span class=\"note\">({reason})</span>") },
                unit = escape(&r.unit),
            );
        }
        let _ = writeln!(
            self.html,
            "</tbody></table></div>\n<p class=\"note\">{} {}</p>\n</section>",
            self.l(
                "Senaste period per mål och enhet; registret per",
                "Latest period per target and unit; register as of"
            ),
            escape(self.as_of)
        );
    }

    fn indicator(&mut self, index: usize, which: &IndicatorRef, spec: &Spec) -> Result<(), DashboardError> {
        let cells: Vec<&Cell> = self.data.cells.iter().filter(|c| &c.indicator == which).collect();
        let Some(first) = cells.first().copied() else { return Ok(()) };
        // A unit's page leaves out indicators the unit has no rows for.
        if let Scope::Unit(u) = self.scope
            && !cells.iter().any(|c| c.split == SplitOf::By(Split::Unit) && &c.split_value == u)
            && !self.data.targets.iter().any(|t| &t.indicator == which && &t.unit == u)
        {
            return Ok(());
        }
        let name = self.name(first);
        let share = first.is_proportion();
        let scale = Scale::of(share);
        let direction = if first.higher_is_better {
            self.l("Högre är bättre.", "Higher is better.")
        } else {
            self.l("Lägre är bättre.", "Lower is better.")
        };
        let _ = writeln!(
            self.html,
            "<section class=\"indicator\" id=\"ind-{index}\">\n<h2>{}</h2>\n<p class=\"note\">{direction} {}</p>",
            escape(&name),
            self.stamp(&first.indicator.id, first.version, self.l("se varje diagram", "see each chart"))
        );
        // Trend.
        let period_type =
            if cells.iter().any(|c| c.period_type == spec.trend_period) { spec.trend_period } else { PeriodType::Year };
        let trend = trend_data(&cells, period_type, self.scope);
        let mut target_lines: Vec<(f64, String)> = Vec::new();
        for t in self.data.targets.iter().filter(|t| &t.indicator == which && self.scope.shows(&t.unit)) {
            let label = format!(
                "{} {} {}",
                self.l("mål", "target"),
                if t.at_least { self.l("minst", "at least") } else { self.l("högst", "at most") },
                self.value(t.target, share)
            );
            if !target_lines.iter().any(|(v, _)| *v == t.target) {
                target_lines.push((t.target, label));
            }
        }
        let periods: Vec<String> = trend.periods.iter().map(|p| p.1.clone()).collect();
        let series: Vec<Series> = trend
            .series
            .iter()
            .map(|(who, points)| Series {
                label: self.who(who).to_string(),
                points: points.iter().map(|c| c.and_then(estimate)).collect(),
            })
            .collect();
        let span = match (periods.first(), periods.last()) {
            (Some(a), Some(b)) => format!("{a} – {b}"),
            _ => String::new(),
        };
        let alt = format!("{}: {name}, {span}", self.l("Trend", "Trend"));
        let svg =
            chart::trend(&periods, &series, &target_lines, scale, &alt, self.lang).map_err(DashboardError::Chart)?;
        let withheld =
            trend.series.iter().flat_map(|s| s.1.iter()).filter(|c| c.is_some_and(|c| c.value.is_none())).count();
        let caption = format!(
            "{}{}{} {}",
            self.l(
                "Linjen är skattningen, det skuggade bandet dess 95-procentiga konfidensintervall.",
                "The line is the estimate, the shaded band its 95% confidence interval."
            ),
            if target_lines.is_empty() {
                ""
            } else {
                self.l(" Den streckade linjen är enheternas mål.", " The dashed line is the units' target.")
            },
            self.withheld_note(withheld, "perioder", "periods"),
            self.stamp(&first.indicator.id, first.version, &span),
        );
        let table = self.trend_table(&trend, share);
        self.figure(
            &format!("{} · {}", self.l("Utveckling över tid", "Trend over time"), name),
            &svg,
            &caption,
            &table,
        );

        // Funnel plot and splits for the latest year with a published municipality value.
        let year = cells
            .iter()
            .filter(|c| c.period_type == PeriodType::Year && c.split == SplitOf::Total && c.value.is_some())
            .max_by_key(|c| c.period_start)
            .copied();
        if let Some(total) = year {
            self.funnel(&cells, total, &name)?;
            self.splits(&cells, total, &name)?;
        }
        self.html.push_str("</section>\n");
        Ok(())
    }

    /// " 3 units are withheld by disclosure control (..)." or nothing.
    fn withheld_note(&self, count: usize, sv: &str, en: &str) -> String {
        match (count, self.lang) {
            (0, _) => String::new(),
            (_, Lang::Sv) => format!(" {count} {sv} är dolda av röjandeskyddet (..)."),
            (_, Lang::En) => format!(" {count} {en} are withheld by disclosure control (..)."),
        }
    }

    /// Why a figure is withheld, in words.
    fn withheld_why(&self, suppression: Option<&str>) -> &'static str {
        match suppression {
            Some("complementary") => self.l("dold för att skydda en annan cell", "withheld to protect another cell"),
            _ => self.l("för få klienter", "too few clients"),
        }
    }

    fn who<'w>(&self, who: &'w str) -> &'w str {
        if who == ALL { self.l("Kommunen", "Municipality") } else { who }
    }

    fn trend_table(&self, trend: &Trend, share: bool) -> String {
        let mut t = format!("<table><thead><tr><th>{}</th>", self.l("Period", "Period"));
        for (who, _) in &trend.series {
            let _ = write!(
                t,
                "<th class=\"num\">{w}: n</th><th class=\"num\">{w}: {}</th><th>{w}: {}</th>",
                self.l("värde", "value"),
                self.l("95 % KI", "95% CI"),
                w = escape(self.who(who))
            );
        }
        t.push_str("</tr></thead><tbody>");
        for (k, (start, label)) in trend.periods.iter().enumerate() {
            for (who, points) in &trend.series {
                let c = points[k];
                let _ = write!(
                    t,
                    "<tr data-unit=\"{}\" data-period=\"{start}\" data-value=\"{}\" data-low=\"{}\" data-high=\"{}\"><td>{}</td>\
                     <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                    escape(who),
                    c.and_then(|c| c.value).map_or(String::new(), |v| v.to_string()),
                    c.and_then(|c| c.ci).map_or(String::new(), |v| v.0.to_string()),
                    c.and_then(|c| c.ci).map_or(String::new(), |v| v.1.to_string()),
                    escape(label),
                    self.count(c.and_then(|c| c.n)),
                    c.and_then(|c| c.value).map_or_else(|| WITHHELD.into(), |v| self.value(v, share)),
                    self.interval(c.and_then(|c| c.ci), share),
                );
            }
        }
        t.push_str("</tbody></table>");
        t
    }

    /// For the latest year with a published municipality value (`total`).
    fn funnel(&mut self, cells: &[&Cell], total: &Cell, name: &str) -> Result<(), DashboardError> {
        let share = total.is_proportion();
        let units: Vec<&Cell> = cells
            .iter()
            .filter(|c| {
                c.split == SplitOf::By(Split::Unit)
                    && c.period_type == PeriodType::Year
                    && c.period_start == total.period_start
            })
            .filter(|c| self.scope.shows(&c.split_value))
            .copied()
            .collect();
        let centre = match (share, total.value, total.sd) {
            (true, Some(p0), _) => Centre::Proportion { p0 },
            (false, Some(mu), Some(sd)) => Centre::Mean { mu, sd },
            _ => return Ok(()),
        };
        let shown: Vec<&Cell> = units.iter().filter(|c| c.n.is_some() && c.value.is_some()).copied().collect();
        let max_n =
            shown.iter().filter_map(|c| c.n).max().unwrap_or(0).max(total.n.unwrap_or(0) / 4).max(10) as f64 * 1.1;
        let grid: Vec<(f64, [(f64, f64); 2])> = (0..=120)
            .map(|k| (2.0 + (max_n - 2.0) * k as f64 / 120.0).round().max(2.0) as u64)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|n| (n as f64, LEVELS.map(|level| centre.limits(n, level))))
            .collect();
        let points: Vec<FunnelPoint> = shown
            .iter()
            .map(|c| FunnelPoint {
                label: c.split_value.clone(),
                n: c.n.unwrap_or(0) as f64,
                value: c.value.unwrap_or(0.0),
            })
            .collect();
        let alt = format!("{}: {name}, {}", self.l("Trattdiagram", "Funnel plot"), total.period);
        let svg = chart::funnel(&points, centre.value(), &grid, Scale::of(share), &alt, self.lang)
            .map_err(DashboardError::Chart)?;
        let mut t = format!(
            "<table><thead><tr><th>{}</th><th class=\"num\">n</th><th class=\"num\">{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            self.l("Enhet", "Unit"),
            self.l("Värde", "Value"),
            self.l("95 % KI", "95% CI"),
            self.l("95 % kontrollgränser", "95% control limits"),
            self.l("99,8 % kontrollgränser", "99.8% control limits"),
            self.l("Läge", "Position"),
        );
        let _ = write!(
            t,
            "<tr data-unit=\"{ALL}\"><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td></td><td></td><td>{}</td></tr>",
            self.l("Kommunen", "Municipality"),
            self.count(total.n),
            self.value(centre.value(), share),
            self.interval(total.ci, share),
            self.l("mittlinje", "centre line")
        );
        for c in &units {
            let (limits, position) = match (c.n, c.value) {
                (Some(n), Some(v)) => {
                    let n = n as u64;
                    let [l95, l998] = LEVELS.map(|level| centre.limits(n, level));
                    let (outside, above) = match centre.position(n, v) {
                        Position::Within => (None, false),
                        Position::Alert { above } => {
                            (Some(self.l("utanför 95 %-gränsen", "outside the 95% limit")), above)
                        }
                        Position::Alarm { above } => {
                            (Some(self.l("utanför 99,8 %-gränsen", "outside the 99.8% limit")), above)
                        }
                    };
                    let better = above == c.higher_is_better;
                    let position = match outside {
                        None => self.l("inom slumpens variation", "within chance variation").to_string(),
                        Some(limit) => {
                            format!(
                                "{limit} ({})",
                                if better { self.l("bättre", "better") } else { self.l("sämre", "worse") }
                            )
                        }
                    };
                    (
                        format!(
                            "<td data-limits95=\"{} {}\">{}</td><td data-limits998=\"{} {}\">{}</td>",
                            l95.0,
                            l95.1,
                            self.interval(Some(l95), share),
                            l998.0,
                            l998.1,
                            self.interval(Some(l998), share)
                        ),
                        position,
                    )
                }
                _ => ("<td>..</td><td>..</td>".to_string(), self.withheld_why(c.suppression.as_deref()).to_string()),
            };
            let _ = write!(
                t,
                "<tr data-unit=\"{u}\" data-n=\"{}\"><td>{u}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td>{limits}<td>{}</td></tr>",
                c.n.map_or(String::new(), |n| n.to_string()),
                self.count(c.n),
                c.value.map_or_else(|| WITHHELD.into(), |v| self.value(v, share)),
                self.interval(c.ci, share),
                escape(&position),
                u = escape(&c.split_value),
            );
        }
        t.push_str("</tbody></table>");
        let withheld = units.len() - shown.len();
        let caption = format!(
            "{}{} {}",
            self.l(
                "Varje punkt är en enhet. Tratten visar hur långt från kommunens värde en enhet av samma storlek kan hamna av slumpen \
                 (streckat: 95 %, heldraget: 99,8 %). Punkter utanför 99,8 %-gränsen skiljer sig mer än slumpen förklarar. \
                 Jämförelsen är inte justerad för skillnader i klienternas behov.",
                "Each point is a unit. The funnel shows how far from the municipality's value a unit of that size can fall by chance \
                 (dashed: 95%, solid: 99.8%). Points outside the 99.8% limit differ more than chance explains. \
                 The comparison is not adjusted for differences in the clients' needs."
            ),
            self.withheld_note(withheld, "enheter", "units"),
            self.stamp(&total.indicator.id, total.version, &total.period)
        );
        self.figure(
            &format!("{} · {name} · {}", self.l("Jämförelse mellan enheter", "Comparison between units"), total.period),
            &svg,
            &caption,
            &t,
        );
        Ok(())
    }

    /// For the latest year with a published municipality value (`total`).
    fn splits(&mut self, cells: &[&Cell], total: &Cell, name: &str) -> Result<(), DashboardError> {
        let share = total.is_proportion();
        let order = [SplitOf::By(Split::Sex), SplitOf::By(Split::AgeBand), SplitOf::By(Split::District)];
        let mut rows: Vec<&Cell> = cells
            .iter()
            .filter(|c| {
                c.period_type == PeriodType::Year && c.period_start == total.period_start && order.contains(&c.split)
            })
            .copied()
            .collect();
        rows.sort_by_key(|c| (order.iter().position(|s| *s == c.split), c.split_value.clone()));
        if rows.is_empty() {
            return Ok(());
        }
        let label = |c: &Cell| {
            let split = match c.split {
                SplitOf::By(Split::Sex) => self.l("Kön", "Sex"),
                SplitOf::By(Split::AgeBand) => self.l("Ålder", "Age"),
                _ => self.l("Distrikt", "District"),
            };
            let value = match (c.split, c.split_value.as_str()) {
                (SplitOf::By(Split::Sex), "F") => self.l("kvinnor", "women").to_string(),
                (SplitOf::By(Split::Sex), "M") => self.l("män", "men").to_string(),
                (_, v) => v.to_string(),
            };
            format!("{split}: {value}")
        };
        let bars: Vec<(String, Option<Estimate>)> = rows.iter().map(|c| (label(c), estimate(c))).collect();
        let alt = format!(
            "{}: {name}, {}",
            self.l("Efter kön, ålder och distrikt", "By sex, age and district"),
            total.period
        );
        let svg = chart::bars(&bars, total.value, Scale::of(share), &alt, self.lang).map_err(DashboardError::Chart)?;
        let mut t = format!(
            "<table><thead><tr><th>{}</th><th class=\"num\">n</th><th class=\"num\">{}</th><th>{}</th></tr></thead><tbody>",
            self.l("Grupp", "Group"),
            self.l("Värde", "Value"),
            self.l("95 % KI", "95% CI")
        );
        for c in std::iter::once(&total).chain(rows.iter()) {
            let _ = write!(
                t,
                "<tr data-unit=\"{ALL}\"><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                escape(&if c.split == SplitOf::Total {
                    self.l("Kommunen", "Municipality").to_string()
                } else {
                    label(c)
                }),
                self.count(c.n),
                c.value.map_or_else(|| WITHHELD.into(), |v| self.value(v, share)),
                self.interval(c.ci, share),
            );
        }
        t.push_str("</tbody></table>");
        let withheld = rows.iter().filter(|c| c.value.is_none()).count();
        let caption = format!(
            "{}{} {}",
            self.l(
                "Hela kommunen. Staplarna med 95-procentiga konfidensintervall; den streckade linjen är kommunens värde.",
                "The whole municipality. Bars with 95% confidence intervals; the dashed line is the municipality's value."
            ),
            self.withheld_note(withheld, "grupper", "groups"),
            self.stamp(&total.indicator.id, total.version, &total.period)
        );
        self.figure(
            &format!(
                "{} · {name} · {}",
                self.l("Likställighet: kön, ålder, distrikt", "Equal treatment: sex, age, district"),
                total.period
            ),
            &svg,
            &caption,
            &t,
        );
        Ok(())
    }

    fn distributions(&mut self) -> Result<(), DashboardError> {
        if self.data.distributions.is_empty() {
            return Ok(());
        }
        let _ = writeln!(
            self.html,
            "<section id=\"distributions\">\n<h2>{}</h2>\n<p class=\"note\">{}</p>\n<div class=\"grid\">",
            self.l("Skattningar vid start och vid uppföljning", "Scores at baseline and at follow-up"),
            self.l(
                "Klienter skattade minst två gånger på samma instrument och område, med senaste skattningen under perioden. \
                 Staplar med färre klienter än gränsen visas inte (..).",
                "Clients assessed at least twice on the same instrument and domain, with the latest assessment in the period. \
                 Bars with fewer clients than the threshold are not shown (..)."
            )
        );
        let policy = &self.data.policy;
        for d in &self.data.distributions {
            let bins = d.spec.bins();
            let all = municipality(&d.raw, bins);
            let mut shown: Vec<(String, Bins)> = Vec::new();
            if let Scope::Unit(u) = self.scope {
                let own = d.raw.get(u).cloned().unwrap_or_else(|| (vec![0; bins], vec![0; bins]));
                if own.0.iter().sum::<u64>() == 0 {
                    continue;
                }
                shown.push((u.clone(), bins::suppress(policy, &own, Some(&all))));
            }
            shown.push((ALL.to_string(), bins::suppress(policy, &all, None)));
            for (who, b) in shown {
                self.distribution(d, &who, &b)?;
            }
        }
        self.html.push_str("</div>\n</section>\n");
        Ok(())
    }

    fn distribution(&mut self, d: &DistributionData, who: &str, b: &Bins) -> Result<(), DashboardError> {
        let s = &d.spec;
        let labels: Vec<String> = (0..s.bins())
            .map(|i| {
                let lo = s.min + s.bin_width * i as f64;
                let hi = (lo + s.bin_width).min(s.max);
                if s.bin_width == 1.0 {
                    self.lang.number(&format!("{lo}"))
                } else {
                    self.lang.number(&format!("{lo}–{hi}"))
                }
            })
            .collect();
        let period = format!("{} – {}", d.from, d.to);
        let title = format!("{} · {}, {} · {}", self.who(who), s.instrument, s.domain, period);
        let svg = chart::distribution(&labels, &b.baseline, &b.follow_up, &title, self.lang)
            .map_err(DashboardError::Chart)?;
        let mut t = format!(
            "<table><thead><tr><th>{}</th><th class=\"num\">{}</th><th class=\"num\">{}</th></tr></thead><tbody>",
            self.l("Poäng", "Score"),
            self.l("vid start", "at baseline"),
            self.l("vid uppföljning", "at follow-up")
        );
        let cell = |c: Option<u64>| self.count(c.map(|c| c as i64));
        for (i, label) in labels.iter().enumerate() {
            let _ = write!(
                t,
                "<tr data-unit=\"{}\"><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(who),
                escape(label),
                cell(b.baseline[i]),
                cell(b.follow_up[i])
            );
        }
        t.push_str("</tbody></table>");
        let caption = format!(
            "n = {} {}. {} <code>baselines</code> ({} {}) · {} {period} · {} {}",
            self.count(b.n.map(|n| n as i64)),
            self.l("klienter", "clients"),
            self.l("Källa: tabellen", "Source: the table"),
            self.l("katalog", "catalogue"),
            escape(self.catalogue),
            self.l("period", "period"),
            self.l("registret per", "register as of"),
            escape(self.as_of)
        );
        self.figure(&title, &svg, &caption, &t);
        Ok(())
    }
}

fn estimate(c: &Cell) -> Option<Estimate> {
    match (c.value, c.ci) {
        (Some(v), Some((l, h))) => Some((v, l, h)),
        _ => None,
    }
}

/// A trend: the periods in order, and per series (a unit, or `*`) its cell per period.
struct Trend<'a> {
    periods: Vec<(chrono::NaiveDate, String)>,
    series: Vec<(String, Vec<Option<&'a Cell>>)>,
}

/// The cells a trend chart draws: the unit's (on a unit's page) and the municipality's.
fn trend_data<'a>(cells: &[&'a Cell], period_type: PeriodType, scope: &Scope) -> Trend<'a> {
    let of_type: Vec<&Cell> = cells.iter().filter(|c| c.period_type == period_type).copied().collect();
    let mut periods: Vec<(chrono::NaiveDate, String)> =
        of_type.iter().map(|c| (c.period_start, c.period.clone())).collect();
    periods.sort();
    periods.dedup();
    let mut who: Vec<String> = Vec::new();
    if let Scope::Unit(u) = scope {
        who.push(u.clone());
    }
    who.push(ALL.to_string());
    let series = who
        .into_iter()
        .map(|w| {
            let points = periods
                .iter()
                .map(|(start, _)| {
                    of_type.iter().copied().find(|c| {
                        c.period_start == *start
                            && if w == ALL {
                                c.split == SplitOf::Total
                            } else {
                                c.split == SplitOf::By(Split::Unit) && c.split_value == w
                            }
                    })
                })
                .collect();
            (w, points)
        })
        .collect();
    Trend { periods, series }
}

/// Per target and unit on the page: the latest yearly status (or the latest
/// of the target's finest period type when it has no yearly one).
fn latest_targets<'a>(rows: &'a [TargetRow], scope: &Scope) -> Vec<&'a TargetRow> {
    let mut out: Vec<&TargetRow> = Vec::new();
    for r in rows.iter().filter(|r| scope.shows(&r.unit)) {
        let rank = |p: PeriodType| match p {
            PeriodType::Year => 0,
            PeriodType::Quarter => 1,
            PeriodType::Month => 2,
        };
        match out.iter_mut().find(|o| o.target_id == r.target_id && o.unit == r.unit) {
            Some(o) => {
                if (rank(r.period_type), std::cmp::Reverse(r.period_start))
                    < (rank(o.period_type), std::cmp::Reverse(o.period_start))
                {
                    *o = r;
                }
            }
            None => out.push(r),
        }
    }
    out
}

/// A value as shown: a share in per cent with one decimal, a mean with one or two.
fn shown(lang: Lang, v: f64, share: bool) -> String {
    if share {
        lang.number(&format!("{:.1}", v * 100.0)) + lang.percent_sign()
    } else if v.abs() < 10.0 {
        lang.number(&format!("{v:.2}"))
    } else {
        lang.number(&format!("{v:.1}"))
    }
}

/// The revisions a page's scope shows: every one for the municipality, the
/// unit's and the non-unit splits' for a unit.
fn revisions_in<'a>(data: &'a Data, scope: &Scope) -> Vec<&'a Revision> {
    data.revisions
        .iter()
        .filter(|r| match scope {
            Scope::All => true,
            Scope::Unit(u) => r.split != "unit" || r.split_value == *u,
        })
        .collect()
}

/// A revision reason in words.
fn reason_label(code: &str, lang: Lang) -> &'static str {
    match code {
        "late_rows" => lang.pick("sena rader för perioden", "late rows for the period"),
        "corrections" => lang.pick(
            "ändrade rader för perioden (rättelser eller senare uppgifter)",
            "changed rows for the period (corrections or later stages)",
        ),
        "withdrawals" => lang.pick("återkallade rader", "withdrawn rows"),
        "definition" => lang.pick("ny definitionsversion", "a new definition version"),
        "earlier_events" => lang.pick("ändringar före perioden", "changes before the period"),
        "later_events" => {
            lang.pick("ändringar efter perioden (uppföljningstid)", "changes after the period (follow-up)")
        }
        "disclosure_control" => lang.pick("röjandeskydd", "disclosure control"),
        "as_of" => lang.pick("annat uttagsdatum", "another export date"),
        _ => lang.pick("oförklarad", "unexplained"),
    }
}

/// The summary of revised figures under a page's header ("figures for
/// 2024 revised: ..."), with the closed periods' revisions of the page's
/// scope listed in place (the page stays self-contained: the full list is
/// the revisions page beside it, named, not linked); empty when none.
fn revision_banner(data: &Data, scope: &Scope, lang: Lang) -> String {
    let rows = revisions_in(data, scope);
    if rows.is_empty() {
        return String::new();
    }
    let closed: Vec<&&Revision> = rows.iter().filter(|r| r.closed).collect();
    let periods: BTreeSet<&str> = closed.iter().map(|r| r.period.as_str()).collect();
    let mut reasons: Vec<&str> = Vec::new();
    for r in &rows {
        for code in &r.reasons {
            if !reasons.contains(&code.as_str()) {
                reasons.push(code);
            }
        }
    }
    let shown_periods = periods.iter().take(8).copied().collect::<Vec<_>>().join(", ");
    let more = if periods.len() > 8 { ", …" } else { "" };
    let closed_text = if periods.is_empty() {
        lang.pick("inga avslutade perioder", "no closed period").to_string()
    } else {
        format!("{} {}{more}", lang.pick("avslutade perioder:", "closed periods:"), escape(&shown_periods))
    };
    let mut html = format!(
        "<section class=\"revisions\" role=\"status\"><p><strong>{}</strong> {} {} ({closed_text}). {} {}. {} <code>{}</code>.</p>\n",
        lang.pick("Reviderade siffror.", "Revised figures."),
        rows.len(),
        lang.pick(
            "publicerade siffror har ändrats sedan förra bygget",
            "published figures changed since the previous build"
        ),
        lang.pick("Skäl:", "Why:"),
        reasons.iter().map(|c| reason_label(c, lang)).collect::<Vec<_>>().join("; "),
        lang.pick("Alla revideringar finns i", "Every revision is listed in"),
        revisions_file(lang),
    );
    if !closed.is_empty() {
        const SHOWN: usize = 40;
        let _ = writeln!(
            html,
            "<details><summary>{} ({})</summary><table class=\"revisions\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            lang.pick("Reviderade siffror för avslutade perioder", "Revised figures of closed periods"),
            closed.len(),
            lang.pick("Indikator", "Indicator"),
            lang.pick("Period", "Period"),
            lang.pick("Uppdelning", "Split"),
            lang.pick("Före", "Before"),
            lang.pick("Nu", "Now"),
            lang.pick("Skäl", "Why"),
        );
        for r in closed.iter().take(SHOWN) {
            html.push_str(&revision_row(r, lang, false));
        }
        html.push_str("</tbody></table>");
        if closed.len() > SHOWN {
            let _ = write!(
                html,
                "<p>{} {}.</p>",
                closed.len() - SHOWN,
                lang.pick("till i revisionslistan", "more in the list of revisions")
            );
        }
        html.push_str("</details>\n");
    }
    html.push_str("</section>\n");
    html
}

/// One revised figure as a table row (with its n before and now on the revisions page).
fn revision_row(r: &Revision, lang: Lang, with_n: bool) -> String {
    let name = if lang == Lang::Sv { &r.name_sv } else { &r.name_en };
    let name = match (&r.instrument, &r.domain) {
        (Some(i), Some(d)) => format!("{name} ({i}, {d})"),
        _ => name.clone(),
    };
    let value = |v: Option<f64>| v.map_or_else(|| WITHHELD.to_string(), |v| shown(lang, v, r.share));
    let count = |n: Option<i64>| {
        format!("<td><span class=\"count\">{}</span></td>", n.map_or_else(|| WITHHELD.into(), |n| n.to_string()))
    };
    let change = r.change.map_or_else(
        || WITHHELD.to_string(),
        |c| {
            let sign = if c > 0.0 { "+" } else { "" };
            if r.share {
                format!("{sign}{} {}", lang.number(&format!("{:.1}", c * 100.0)), lang.pick("procentenheter", "points"))
            } else {
                format!("{sign}{}", shown(lang, c, false))
            }
        },
    );
    let split = if r.split == "total" {
        lang.pick("hela kommunen", "municipality").to_string()
    } else {
        format!("{} {}", r.split, r.split_value)
    };
    let closed = if r.closed { format!(" <em>({})</em>", lang.pick("avslutad", "closed")) } else { String::new() };
    let unit = if r.split == "unit" { r.split_value.as_str() } else { ALL };
    let ns = if with_n { format!("{}{}", count(r.n_before), count(r.n)) } else { String::new() };
    let change_cell = if with_n { format!("<td>{}</td>", escape(&change)) } else { String::new() };
    format!(
        "<tr data-unit=\"{}\"><td>{} <code>{}</code></td><td>{}{closed}</td><td>{}</td>{ns}<td>{}</td><td>{}</td>{change_cell}<td>{}</td></tr>\n",
        escape(unit),
        escape(&name),
        escape(&r.indicator_id),
        escape(&r.period),
        escape(&split),
        value(r.value_before),
        value(r.value),
        escape(&r.reasons.iter().map(|c| reason_label(c, lang)).collect::<Vec<_>>().join("; ")),
    )
}

/// The revisions page: every revised figure, closed periods first, with its
/// value before and now and why it changed.
pub fn render_revisions(data: &Data, lang: Lang, manifest: &Manifest) -> String {
    let mut html = String::new();
    let previous = data.revisions.first().map(|r| r.previous_build.as_str()).unwrap_or("");
    let _ = write!(
        html,
        "<header>\n<h1>{}</h1>\n<p class=\"summary\">{} <code>{}</code> {} <code>{}</code> ({} {}). {}</p>\n</header>\n<main>\n",
        lang.pick("Reviderade siffror", "Revised figures"),
        lang.pick("Publicerade siffror i bygget", "Published figures in build"),
        escape(&manifest.build_id),
        lang.pick("som skiljer sig från bygget", "that differ from build"),
        escape(previous),
        lang.pick("registret per", "register as of"),
        escape(&manifest.as_of),
        lang.pick(
            "En siffra för en avslutad period ändras bara med ett registrerat skäl.",
            "A figure of a closed period changes only with a recorded reason."
        ),
    );
    if data.revisions.is_empty() {
        let _ = writeln!(
            html,
            "<p>{}</p>",
            lang.pick("Inga publicerade siffror har ändrats.", "No published figure changed.")
        );
    } else {
        let _ = writeln!(
            html,
            "<table class=\"revisions\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>n {}</th><th>n</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            lang.pick("Indikator", "Indicator"),
            lang.pick("Period", "Period"),
            lang.pick("Uppdelning", "Split"),
            lang.pick("före", "before"),
            lang.pick("Värde före", "Value before"),
            lang.pick("Värde nu", "Value now"),
            lang.pick("Ändring", "Change"),
            lang.pick("Skäl", "Why"),
        );
        for r in &data.revisions {
            html.push_str(&revision_row(r, lang, true));
        }
        html.push_str("</tbody></table>\n");
    }
    html.push_str("</main>\n");
    let title = lang.pick("Reviderade siffror", "Revised figures");
    Shell { lang: lang.code(), title, extra_style: EXTRA_STYLE }.render(&html)
}

/// The file name of the revisions page.
pub fn revisions_file(lang: Lang) -> &'static str {
    lang.pick("revideringar.html", "revisions.html")
}

fn wrap(page: &Page, spec: &Spec, manifest: &Manifest) -> String {
    let lang = page.lang;
    let title = if lang == Lang::Sv { &spec.title_sv } else { &spec.title_en };
    let scope = match page.scope {
        Scope::All => lang.pick("Hela kommunen, alla enheter", "The whole municipality, every unit").to_string(),
        Scope::Unit(u) => format!(
            "{} {} {}",
            lang.pick("Enhet", "Unit"),
            u,
            lang.pick("och kommunens totaler", "and the municipality's totals")
        ),
    };
    let mut html = String::new();
    let _ = write!(
        html,
        "<header>\n<h1>{}</h1>\n<p class=\"summary\">{}</p>\n<table class=\"stamp-table\"><tbody>\n",
        escape(title),
        escape(&scope),
    );
    let mut row = |k: &str, v: String| {
        let _ = writeln!(html, "<tr><th>{}</th><td>{v}</td></tr>", escape(k));
    };
    row(lang.pick("registret per", "register as of"), format!("<strong>{}</strong>", escape(&manifest.as_of)));
    row(
        lang.pick("data", "data"),
        format!(
            "{} – {}",
            escape(manifest.data_from.as_deref().unwrap_or("?")),
            escape(manifest.data_to.as_deref().unwrap_or("?"))
        ),
    );
    row(
        lang.pick("indikatorkatalog", "indicator catalogue"),
        format!("{} {}", lang.pick("version", "version"), escape(page.catalogue)),
    );
    row(
        lang.pick("röjandeskydd", "disclosure control"),
        format!(
            "{} {} {} <code>{WITHHELD}</code>",
            lang.pick("Färre än", "Fewer than"),
            page.data.policy.threshold,
            lang.pick(
                "klienter, och celler som annars kunde räknas fram, visas som",
                "clients, and cells that could otherwise be worked out, are shown as"
            )
        ),
    );
    html.push_str("</tbody></table>\n</header>\n");
    html.push_str(&revision_banner(page.data, page.scope, lang));
    html.push_str("<main>\n");
    html.push_str(&page.html);
    let _ = write!(
        html,
        "</main>\n<footer>\n<h2>{}</h2>\n<dl>\n",
        lang.pick("Underlag och metod", "Provenance and method")
    );
    let mut item = |k: &str, v: String| {
        let _ = writeln!(html, "<dt>{}</dt><dd>{v}</dd>", escape(k));
    };
    item(
        lang.pick("register", "register build"),
        format!(
            "{} · {} {} · {} {}",
            escape(&manifest.build_id),
            lang.pick("byggt", "built"),
            escape(&manifest.built_at),
            lang.pick("per", "as of"),
            escape(&manifest.as_of)
        ),
    );
    if let Some(run) = &manifest.indicators {
        item(
            lang.pick("indikatorer", "indicators"),
            format!(
                "{} {} (sha256 {}) · {} {}",
                lang.pick("katalog", "catalogue"),
                escape(&run.catalogue_version),
                escape(&run.catalogue_sha256[..16.min(run.catalogue_sha256.len())]),
                lang.pick("beräknade", "computed"),
                escape(&run.computed_at)
            ),
        );
        let used: BTreeSet<(&str, i32)> =
            page.data.cells.iter().map(|c| (c.indicator.id.as_str(), c.version)).collect();
        item(
            lang.pick("definitioner", "definitions"),
            used.iter().map(|(id, v)| format!("<code>{}</code> v{v}", escape(id))).collect::<Vec<_>>().join(", "),
        );
    }
    item(
        lang.pick("metod", "method"),
        lang.pick(
            "Andelar med Wilsons 95-procentiga intervall, medelvärden med t-intervall. Målstatus och trend enligt tabellen target_status \
             (förändringens intervall enligt Newcombe/MOVER). Trattdiagrammens gränser: exakta binomialgränser med Spiegelhalters \
             interpolering (andelar), normalgränser med kommunens standardavvikelse (medelvärden).",
            "Proportions with Wilson 95% intervals, means with t intervals. Target status and trend as in the target_status table \
             (the change's interval by Newcombe/MOVER). Funnel limits: exact binomial limits with Spiegelhalter's interpolation \
             (proportions), normal limits with the municipality's standard deviation (means).",
        )
        .to_string(),
    );
    html.push_str("</dl>\n</footer>\n");
    let title = format!("{title} · {scope}");
    Shell { lang: lang.code(), title: &title, extra_style: EXTRA_STYLE }.render(&html)
}
