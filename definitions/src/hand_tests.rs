//! Variables computed on a hand-made register, against values worked out by
//! hand (in the comments), and the errors a bad definition gets.

use chrono::NaiveDate;
use polars::prelude::*;
use utfall_register::scan::write_entity;
use utfall_register::schema;

use crate::{Role, Variable, VariableSpec, compute};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn register(dir: &std::path::Path) {
    let clients = df!("client_id" => ["c1", "c2", "c3"], "birth_year" => [2008, 1980, 1990],
        "sex" => ["F", "M", "F"], "district" => ["norr", "soder", "norr"])
    .unwrap();
    write_entity(dir, schema::table("clients").unwrap(), clients).unwrap();
    // c2: January to June 2023 on unemployment (5,000 a month), September on
    // sickness (3,000); c3: December 2022 (1,000). c1: nothing.
    let months = [
        "2023-01-01",
        "2023-02-01",
        "2023-03-01",
        "2023-04-01",
        "2023-05-01",
        "2023-06-01",
        "2023-09-01",
        "2022-12-01",
    ];
    let payments = df!(
        "payment_id" => (1..=8).map(|i| format!("P{i}")).collect::<Vec<_>>(),
        "client_id" => ["c2", "c2", "c2", "c2", "c2", "c2", "c2", "c3"],
        "household_id" => ["H2", "H2", "H2", "H2", "H2", "H2", "H2", "H3"],
        "case_id" => ["K2", "K2", "K2", "K2", "K2", "K2", "K2", "K3"],
        "month" => months.iter().map(|m| d(m)).collect::<Vec<_>>(),
        "amount_sek" => [5000.0, 5000.0, 5000.0, 5000.0, 5000.0, 5000.0, 3000.0, 1000.0],
        "reason" => ["unemployment", "unemployment", "unemployment", "unemployment", "unemployment", "unemployment", "sickness", "unemployment"],
    )
    .unwrap();
    write_entity(dir, schema::table("payments").unwrap(), payments).unwrap();
    // c2's school domain: 4 in March, 6 in August, 7.5 in December 2023; housing 3 in May.
    let assessments = df!(
        "assessment_id" => ["A1", "A2", "A3", "A4"],
        "client_id" => ["c2", "c2", "c2", "c2"],
        "case_id" => ["K2", "K2", "K2", "K2"],
        "instrument" => ["stjarna", "stjarna", "stjarna", "stjarna"],
        "domain" => ["skola", "skola", "skola", "boende"],
        "score" => [4.0, 6.0, 7.5, 3.0],
        "assessed" => [d("2023-03-01"), d("2023-08-01"), d("2023-12-01"), d("2023-05-01")],
    )
    .unwrap();
    write_entity(dir, schema::table("assessments").unwrap(), assessments).unwrap();
}

fn spec(toml_text: &str) -> VariableSpec {
    toml::from_str(toml_text).unwrap()
}

fn known(toml_text: &str) -> Variable {
    spec(toml_text).check(Role::Known).unwrap()
}

#[test]
fn variables_equal_the_hand_computed_values() {
    let tmp = tempfile::tempdir().unwrap();
    register(tmp.path());
    // Every client on 1 July 2023, and c2 again on 1 October.
    let index = df!(
        "client_id" => ["c1", "c2", "c3", "c2"],
        "index_date" => [d("2023-07-01"), d("2023-07-01"), d("2023-07-01"), d("2023-10-01")],
    )
    .unwrap();
    let vars = vec![
        known("name = \"months\"\ntable = \"payments\"\naggregate = \"months_with\"\nwindow = \"[-12m, 0)\""),
        known(
            "name = \"unemployment_sek\"\ntable = \"payments\"\naggregate = \"sum\"\ncolumn = \"amount_sek\"\n\
             window = \"[-6m, 0)\"\nwhere = { reason = \"unemployment\" }",
        ),
        known("name = \"recent\"\ntable = \"payments\"\naggregate = \"any\"\nwindow = \"[-3m, 0)\""),
        known("name = \"days\"\ntable = \"payments\"\naggregate = \"days_since\"\nwindow = \"[-24m, 0)\""),
        known(
            "name = \"reason\"\ntable = \"payments\"\naggregate = \"latest\"\ncolumn = \"reason\"\nwindow = \"[-24m, 0)\"",
        ),
        known("name = \"sex\"\ntable = \"clients\"\naggregate = \"attribute\"\ncolumn = \"sex\""),
        spec("name = \"later\"\ntable = \"payments\"\naggregate = \"count\"\nwindow = \"[0, 3m]\"")
            .check(Role::Outcome)
            .unwrap(),
    ];
    let outcome = |text: &str| spec(text).check(Role::Outcome).unwrap();
    let school = "table = \"assessments\"\nwhere = { instrument = \"stjarna\", domain = \"skola\" }";
    let vars = [
        vars,
        vec![
            known(&format!("name = \"baseline\"\naggregate = \"baseline\"\nwindow = \"[-12m, 0]\"\n{school}")),
            outcome(&format!(
                "name = \"change\"\naggregate = \"change_from_baseline\"\nwindow = \"[-6m, 12m]\"\n{school}"
            )),
            outcome(
                "name = \"to_payment\"\ntable = \"payments\"\naggregate = \"time_to_event\"\nwindow = \"(0, 12m]\"",
            ),
            outcome(&format!(
                "name = \"improved\"\naggregate = \"improved\"\nat_least = 2\nwindow = \"[-6m, 12m]\"\n{school}"
            )),
            outcome(&format!(
                "name = \"fell\"\naggregate = \"improved\"\nat_least = -1\nwindow = \"[-6m, 12m]\"\n{school}"
            )),
        ],
    ]
    .concat();
    let out = compute(tmp.path(), d("2025-12-31"), index.lazy(), &vars).unwrap().collect().unwrap();
    assert_eq!(out.height(), 4);
    let f64s = |c: &str| out.column(c).unwrap().f64().unwrap().iter().collect::<Vec<_>>();
    // School at the baseline: March's 4 (housing's 3 is another domain).
    assert_eq!(f64s("baseline"), [None, Some(4.0), None, Some(4.0)]);
    // From 1 January 2023: March 4 -> December 7.5; from 1 April: August 6 -> December 7.5.
    assert_eq!(f64s("change"), [None, Some(3.5), None, Some(1.5)]);
    // Improved by 2 points or more after the index: from 1 July, the
    // baseline is March's 4 and August's 6 reaches it (31 days on); from
    // 1 October the baseline is August's 6 and December's 7.5 is only 1.5
    // up. A fall of 1 from 1 July: none.
    let i64s_of = |c: &str| out.column(c).unwrap().i64().unwrap().iter().collect::<Vec<_>>();
    assert_eq!(i64s_of("improved"), [None, Some(31), None, None]);
    assert_eq!(i64s_of("fell"), [None, None, None, None]);
    let i64s = |c: &str| out.column(c).unwrap().i64().unwrap().iter().collect::<Vec<_>>();
    let strs =
        |c: &str| out.column(c).unwrap().str().unwrap().iter().map(|s| s.map(str::to_string)).collect::<Vec<_>>();
    let s = |v: &str| Some(v.to_string());
    // Months with a payment in the 12 months before: c1 none; c2 January to
    // June; c3 December 2022; c2 in October also September.
    assert_eq!(i64s("months"), [Some(0), Some(6), Some(1), Some(7)]);
    // Unemployment payments in the 6 months before: c2 January to June, then April to June.
    let sek: Vec<Option<f64>> = out.column("unemployment_sek").unwrap().f64().unwrap().iter().collect();
    assert_eq!(sek, [Some(0.0), Some(30_000.0), Some(0.0), Some(15_000.0)]);
    let recent: Vec<Option<bool>> = out.column("recent").unwrap().bool().unwrap().iter().collect();
    assert_eq!(recent, [Some(false), Some(true), Some(false), Some(true)]);
    // Days from the latest payment's month to the index: 1 June -> 1 July is
    // 30; 1 December 2022 -> 1 July 2023 is 212; 1 September -> 1 October 30.
    assert_eq!(i64s("days"), [None, Some(30), Some(212), Some(30)]);
    assert_eq!(strs("reason"), [None, s("unemployment"), s("unemployment"), s("sickness")]);
    assert_eq!(strs("sex"), [s("F"), s("M"), s("F"), s("M")]);
    // After 1 July up to 1 October inclusive: c2's September payment.
    assert_eq!(i64s("later"), [Some(0), Some(1), Some(0), Some(0)]);
    // 1 July -> 1 September is 62 days; after 1 October no payment (censored).
    assert_eq!(i64s("to_payment"), [None, Some(62), None, None]);
}

/// Days in residential care: c2 from 10 March to 20 August 2023 (the day
/// it ended not counted), c1 from 15 June 2023 and still placed, c3 denied.
#[test]
fn days_in_counts_the_days_of_spans_inside_the_window() {
    let tmp = tempfile::tempdir().unwrap();
    register(tmp.path());
    let interventions = df!(
        "intervention_id" => ["I1", "I2", "I3"],
        "client_id" => ["c2", "c1", "c3"],
        "case_id" => ["K2", "K1", "K3"],
        "type" => ["residential_care", "residential_care", "residential_care"],
        "decided" => [d("2023-03-01"), d("2023-06-01"), d("2023-06-01")],
        "granted" => [true, true, false],
        "started" => [Some(d("2023-03-10")), Some(d("2023-06-15")), Some(d("2023-06-20"))],
        "ended" => [Some(d("2023-08-20")), None, None],
    )
    .unwrap();
    write_entity(tmp.path(), schema::table("interventions").unwrap(), interventions).unwrap();
    let care = "table = \"interventions\"\naggregate = \"days_in\"\ndate = \"started\"\nuntil = \"ended\"\n\
                where = { type = \"residential_care\", granted = true }";
    let vars = [
        known(&format!("name = \"before\"\n{care}\nwindow = \"[-6m, 0)\"")),
        spec(&format!("name = \"after\"\n{care}\nwindow = \"(0, 3m]\"")).check(Role::Outcome).unwrap(),
    ];
    let index = df!(
        "client_id" => ["c1", "c2", "c3", "c2"],
        "index_date" => [d("2023-07-01"), d("2023-07-01"), d("2023-07-01"), d("2023-10-01")],
    )
    .unwrap();
    let days = |as_of: &str| {
        let out = compute(tmp.path(), d(as_of), index.clone().lazy(), &vars).unwrap().collect().unwrap();
        let col = |c: &str| out.column(c).unwrap().i64().unwrap().iter().map(Option::unwrap).collect::<Vec<_>>();
        (col("before"), col("after"))
    };
    let (before, after) = days("2025-12-31");
    // Before 1 July (from 1 January): c1 15 June -> 1 July = 16; c2 10 March
    // -> 1 July = 22 + 30 + 31 + 30 = 113; c3 denied; c2 before 1 October
    // (from 1 April) to 20 August = 30 + 31 + 30 + 31 + 19 = 141.
    assert_eq!(before, [16, 113, 0, 141]);
    // After 1 July up to 1 October inclusive (2 July to 2 October): c1 still
    // placed, 30 + 31 + 30 + 1 = 92; c2 2 July -> 20 August = 30 + 19 = 49.
    assert_eq!(after, [92, 49, 0, 0]);
    // Exported on 1 August: c1's days stop at the export date (2 July to 1
    // August counted, 31), and so do c2's, whatever end the row holds.
    assert_eq!(days("2023-08-01").1, [31, 31, 0, 0]);
    // No new residential placement started in the 3 months after the index
    // (up to 1 October inclusive): none starts then for anyone, so each is
    // achieved on the window's last day, 92 days on; from 1 October the
    // window ends 1 January 2024. Exported on 1 August, no window is over.
    let none = spec(
        "name = \"no_new\"\ntable = \"interventions\"\naggregate = \"without\"\ndate = \"started\"\n\
         window = \"(0, 3m]\"\nwhere = { type = \"residential_care\" }",
    )
    .check(Role::Outcome)
    .unwrap();
    let at = |as_of: &str, index: &DataFrame| {
        let out = compute(tmp.path(), d(as_of), index.clone().lazy(), std::slice::from_ref(&none)).unwrap();
        out.collect().unwrap().column("no_new").unwrap().i64().unwrap().iter().collect::<Vec<_>>()
    };
    assert_eq!(at("2025-12-31", &index), [Some(92), Some(92), Some(92), Some(92)]);
    assert_eq!(at("2023-08-01", &index), [None, None, None, None]);
    // From 1 June 2023 c1's placement (15 June) and c3's (20 June, denied but
    // a row) fall in the window; c2's (10 March) does not.
    let june = df!("client_id" => ["c1", "c2", "c3"], "index_date" => [d("2023-06-01"); 3]).unwrap();
    assert_eq!(at("2025-12-31", &june), [None, Some(92), None]);
    let e = spec(&format!("name = \"x\"\n{care}\nwindow = \"[-6m, 0)\"").replace("until = \"ended\"\n", ""))
        .check(Role::Known)
        .unwrap_err();
    assert_eq!((e.field.as_str(), e.message.contains("name the column they end on")), ("variable 'x'.until", true));
    let e = spec(&format!("name = \"x\"\n{care}\nwindow = \"[-6m, 0)\"").replace("\"ended\"", "\"provider\""))
        .check(Role::Known)
        .unwrap_err();
    assert_eq!((e.field.as_str(), e.message.contains("not a date column")), ("variable 'x'.until", true));
}

#[test]
fn bad_definitions_name_the_field() {
    let cases = [
        (
            "name = \"x\"\ntable = \"paymnts\"\naggregate = \"count\"\nwindow = \"[-1y, 0)\"",
            "variable 'x'.table",
            "no table 'paymnts'",
        ),
        (
            "name = \"x\"\ntable = \"payments\"\naggregate = \"sum\"\ncolumn = \"amount\"\nwindow = \"[-1y, 0)\"",
            "variable 'x'.column",
            "no column 'amount'",
        ),
        (
            "name = \"x\"\ntable = \"payments\"\naggregate = \"sum\"\ncolumn = \"reason\"\nwindow = \"[-1y, 0)\"",
            "variable 'x'.column",
            "needs a number column",
        ),
        (
            "name = \"x\"\ntable = \"payments\"\naggregate = \"count\"\nwindow = \"[-1y, 1m)\"",
            "variable 'x'.window",
            "reaches past the index date",
        ),
        (
            "name = \"x\"\ntable = \"payments\"\naggregate = \"count\"\nwindow = \"[-1y, 0)\"\nwhere = { reason = \"lottery\" }",
            "variable 'x'.where.reason",
            "'lottery' is not in the code list",
        ),
        (
            "name = \"x\"\ntable = \"interventions\"\naggregate = \"count\"\nwindow = \"[-1y, 0)\"",
            "variable 'x'.date",
            "several date columns",
        ),
        (
            "name = \"x\"\ntable = \"interventions\"\naggregate = \"count\"\ndate = \"provider\"\nwindow = \"[-1y, 0)\"",
            "variable 'x'.date",
            "not a date column",
        ),
        (
            "name = \"x\"\ntable = \"interventions\"\naggregate = \"count\"\ndate = \"started\"\nwindow = \"[-1y, 0)\"\nwhere = { granted = \"yes\" }",
            "variable 'x'.where.granted",
            "true or false",
        ),
        ("name = \"x\"\ntable = \"payments\"\naggregate = \"count\"", "variable 'x'.window", "give the window"),
        (
            "name = \"x\"\ntable = \"cases\"\naggregate = \"attribute\"\ncolumn = \"unit\"",
            "variable 'x'.by",
            "the member's own case",
        ),
        (
            "name = \"x\"\ntable = \"interventions\"\naggregate = \"attribute\"\ncolumn = \"provider\"",
            "variable 'x'.table",
            "a client's or the member's case's",
        ),
        (
            "name = \"x\"\ntable = \"interventions\"\naggregate = \"any\"\ndate = \"decided\"\nwindow = \"[-1y, 0]\"\nfill = 0",
            "variable 'x'.fill",
            "may be missing",
        ),
        (
            "name = \"x\"\ntable = \"interventions\"\naggregate = \"latest\"\ncolumn = \"end_reason\"\ndate = \"ended\"\nwindow = \"[-1y, 0]\"\ntransform = \"log1p\"",
            "variable 'x'.transform",
            "is of a number",
        ),
        (
            "name = \"x\"\ntable = \"interventions\"\naggregate = \"latest\"\ncolumn = \"end_reason\"\ndate = \"ended\"\nwindow = \"[-1y, 0]\"\nis = \"finished\"",
            "variable 'x'.is.end_reason",
            "not in the code list",
        ),
        (
            "name = \"x\"\ntable = \"clients\"\naggregate = \"attribute\"\ncolumn = \"age\"\nbands = [18, 0]",
            "variable 'x'.bands",
            "ascending",
        ),
        (
            "name = \"x\"\ntable = \"cases\"\naggregate = \"count\"\ndate = \"opened\"\nwindow = \"[-1y, 0)\"\nsame = [\"region\"]",
            "variable 'x'.same[0]",
            "no column 'region'",
        ),
        (
            "name = \"x\"\ntable = \"assessments\"\naggregate = \"baseline\"\nwindow = \"[-1y, 0]\"\nseverity.gaf = { cutoff = 50, sd = 0, higher_is_better = true }",
            "variable 'x'.severity.gaf",
            "an sd above 0",
        ),
        (
            "name = \"x\"\ntable = \"reports\"\naggregate = \"count\"\ndate = \"received\"\nwindow = \"[-1y, 0]\"\nsame = [\"kind.area\"]",
            "variable 'x'.same[0]",
            "refers to no table",
        ),
        (
            "name = \"x\"\ntable = \"reports\"\naggregate = \"any\"\ndate = \"received\"\nwindow = \"[-1y, 0]\"\nreaches = 2",
            "variable 'x'.reaches",
            "reaches a value",
        ),
        (
            "name = \"x\"\ntable = \"contacts\"\naggregate = \"count_distinct\"\nwindow = \"[-1y, 0]\"",
            "variable 'x'.column",
            "needs a column",
        ),
    ];
    let school = "table = \"assessments\"\naggregate = \"change_from_baseline\"\nwhere = { instrument = \"stjarna\", domain = \"skola\" }";
    for (text, field, says) in [
        (format!("name = \"x\"\n{school}\nwindow = \"[-6m, 0]\""), "variable 'x'.window", "ends by the index date"),
        (
            "name = \"x\"\ntable = \"assessments\"\naggregate = \"baseline\"\nwindow = \"[-6m, 0]\"\nwhere = { instrument = \"stjarna\" }".into(),
            "variable 'x'.where.domain",
            "one instrument and domain",
        ),
        ("name = \"x\"\ntable = \"payments\"\naggregate = \"baseline\"\nwindow = \"[-6m, 0]\"".into(), "variable 'x'.table", "reads assessments"),
        (
            "name = \"x\"\ntable = \"assessments\"\naggregate = \"improved\"\nwindow = \"[-6m, 6m]\"\nwhere = { instrument = \"stjarna\", domain = \"skola\" }".into(),
            "variable 'x'.at_least",
            "the change that counts",
        ),
    ] {
        let e = spec(&text).check(Role::Outcome).unwrap_err();
        assert_eq!(e.field, field, "{text}: {e}");
        assert!(e.message.contains(says), "{text}: {e}");
    }
    let e = spec("name = \"x\"\ntable = \"payments\"\naggregate = \"time_to_event\"\nwindow = \"[-1y, 0)\"")
        .check(Role::Known)
        .unwrap_err();
    assert!(e.field.ends_with("aggregate") && e.message.contains("is an outcome"), "{e}");
    for (text, field, says) in cases {
        let e = spec(text).check(Role::Known).unwrap_err();
        assert_eq!(e.field, field, "{text}: {e}");
        assert!(e.message.contains(says), "{text}: {e}");
    }
    let e = spec("name = \"x\"\ntable = \"payments\"\naggregate = \"count\"\nwindow = \"[-1m, 12m]\"")
        .check(Role::Outcome)
        .unwrap_err();
    assert!(e.message.contains("starts before the index date"), "{e}");
    // A window that is not one is refused when read, with the reason.
    let e =
        toml::from_str::<VariableSpec>("name = \"x\"\ntable = \"payments\"\naggregate = \"count\"\nwindow = \"-12m\"")
            .unwrap_err();
    assert!(e.to_string().contains("is not a window"), "{e}");
}

#[test]
fn a_cohort_keeps_what_its_entry_and_criteria_say_and_counts_every_step() {
    let tmp = tempfile::tempdir().unwrap();
    register(tmp.path());
    // Every payment from 2023 on, kept where the client had payments in at
    // least 2 of the 12 months before: c2's March to June and September.
    let spec = crate::CohortSpec::parse(
        "[entry]\ntable = \"payments\"\nevery = true\nage = [18, 64]\nfrom = \"2023-01-01\"\n\
         [[require]]\nvariable = \"before\"\nat_least = 2\n\
         [[variable]]\nname = \"before\"\ntable = \"payments\"\naggregate = \"months_with\"\nwindow = \"[-12m, 0)\"\n\
         [[outcome]]\nname = \"after\"\ntable = \"payments\"\naggregate = \"count\"\nwindow = \"(0, 3m]\"\n",
    )
    .unwrap();
    let m = spec.check().unwrap().build(tmp.path(), d("2025-12-31")).unwrap();
    let steps: Vec<usize> = m.attrition.iter().map(|s| s.1).collect();
    assert_eq!(steps, [8, 8, 7, 7, 5], "{:?}", m.attrition);
    let days: Vec<i32> = m
        .frame
        .column("index_date")
        .unwrap()
        .cast(&DataType::Int32)
        .unwrap()
        .i32()
        .unwrap()
        .into_no_null_iter()
        .collect();
    let want: Vec<i32> = ["2023-03-01", "2023-04-01", "2023-05-01", "2023-06-01", "2023-09-01"]
        .iter()
        .map(|s| (d(s) - d("1970-01-01")).num_days() as i32)
        .collect();
    assert_eq!(days, want);
    let before: Vec<i64> = m.frame.column("before").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(before, [2, 3, 4, 5, 6]);
    // Payments in the 3 months after (index day left out): March -> April,
    // May, June; April -> May, June; May -> June; June -> September; September -> none.
    let after: Vec<i64> = m.frame.column("after").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(after, [3, 2, 1, 1, 0]);

    // First entries (c2 January 2023, c3 December 2022) of clients aged
    // 18-40: c3 (32); c2 is 43.
    let spec = crate::CohortSpec::parse("[entry]\ntable = \"payments\"\nage = [18, 40]\n").unwrap();
    let m = spec.check().unwrap().build(tmp.path(), d("2025-12-31")).unwrap();
    assert_eq!(m.attrition.iter().map(|s| s.1).collect::<Vec<_>>(), [8, 2, 1]);
    // The first entry ever, then the period: c3's first (2022) is before it.
    let spec = crate::CohortSpec::parse("[entry]\ntable = \"payments\"\nfrom = \"2023-01-01\"\n").unwrap();
    let m = spec.check().unwrap().build(tmp.path(), d("2025-12-31")).unwrap();
    assert_eq!(m.attrition.iter().map(|s| s.1).collect::<Vec<_>>(), [8, 2, 1]);
    assert_eq!(m.frame.column("client_id").unwrap().str().unwrap().get(0), Some("c2"));
    let spec = crate::CohortSpec::parse("[entry]\ntable = \"payments\"\nage = [18, 40]\n").unwrap();
    let m = spec.check().unwrap().build(tmp.path(), d("2025-12-31")).unwrap();
    assert_eq!(m.frame.column("client_id").unwrap().str().unwrap().get(0), Some("c3"));
}

#[test]
fn a_bad_cohort_names_the_field() {
    let entry = "[entry]\ntable = \"payments\"\n";
    let later = "[[outcome]]\nname = \"later\"\ntable = \"payments\"\naggregate = \"count\"\nwindow = \"[0, 12m)\"\n";
    let cases = [
        ("[entry]\ntable = \"nope\"\n".to_string(), "entry.table", "no table 'nope'"),
        ("[entry]\ntable = \"interventions\"\n".to_string(), "entry.date", "several date columns"),
        (
            "[entry]\ntable = \"payments\"\nwhere = { reason = \"x\" }\n".to_string(),
            "entry.where.reason",
            "not in the code list",
        ),
        ("[entry]\ntable = \"payments\"\nage = [30, 20]\n".to_string(), "entry.age", "is empty"),
        (format!("{entry}[[require]]\nvariable = \"later\"\nat_least = 1\n{later}"), "require[0]", "is an outcome"),
        (
            format!("{entry}[[require]]\nvariable = \"gone\"\nat_least = 1\n"),
            "require[0]",
            "no [[variable]] named 'gone'",
        ),
        (
            format!(
                "{entry}[[variable]]\nname = \"later\"\ntable = \"payments\"\naggregate = \"count\"\nwindow = \"[-1y, 0)\"\n{later}"
            ),
            "variable 'later'.name",
            "used twice",
        ),
        (
            format!(
                "{entry}[[variable]]\nname = \"peek\"\ntable = \"payments\"\naggregate = \"count\"\nwindow = \"[-1y, 1d]\"\n"
            ),
            "variable 'peek'.window",
            "reaches past the index date",
        ),
    ];
    for (text, field, says) in cases {
        let e = crate::CohortSpec::parse(&text).and_then(|s| s.check()).unwrap_err();
        assert_eq!(e.field, field, "{text}: {e}");
        assert!(e.message.contains(says), "{text}: {e}");
    }
    let e = crate::CohortSpec::parse("[entry]\ntable = \"payments\"\nevry = true\n").unwrap_err();
    assert_eq!(e.field, "line 3");
    assert!(e.message.contains("evry"), "{e}");
}

/// Events an outcome contract pays on, worked by hand on the register above.
#[test]
fn runs_and_months_without_equal_the_hand_computed_dates() {
    let tmp = tempfile::tempdir().unwrap();
    register(tmp.path());
    let index = df!(
        "client_id" => ["c2", "c2", "c3", "c1"],
        "household_id" => ["H2", "H2", "H3", "H1"],
        "index_date" => [d("2023-03-01"), d("2023-05-15"), d("2022-12-01"), d("2023-01-01")],
    )
    .unwrap();
    let outcome = |text: &str| spec(text).check(Role::Outcome).unwrap();
    let vars = vec![
        // c2 from 1 March: April-June paid, July and August not: two months
        // without by 31 August (183 days). From 15 May: June paid; July-August
        // (31 August, 108 days). c3 from December 2022: nothing after, two
        // months January-February 2023 (28 February, 89 days). c1: never paid,
        // February-March (31 March, 89 days).
        outcome(
            "name = \"off2\"\ntable = \"payments\"\naggregate = \"months_without\"\nfor = \"2m\"\nwindow = \"(0, 12m]\"\nby = \"household\"",
        ),
        // Three months without: c2 after September's payment, October-December
        // 2023 (31 December: 305 days from 1 March, 230 from 15 May).
        outcome(
            "name = \"off3\"\ntable = \"payments\"\naggregate = \"months_without\"\nfor = \"3m\"\nwindow = \"(0, 12m]\"\nby = \"household\"",
        ),
        // ...but a window of 6 months after 15 May ends on 15 November: October
        // and November are not yet three whole months.
        outcome(
            "name = \"off3_short\"\ntable = \"payments\"\naggregate = \"months_without\"\nfor = \"3m\"\nwindow = \"(0, 6m]\"\nby = \"household\"",
        ),
        // School scores of at least 5 lasting 4 months: August 6 then December
        // 7.5 (4 months after August): 1 December. From 1 March (c2): 275 days.
        outcome(
            "name = \"school_run\"\ntable = \"assessments\"\naggregate = \"time_to_event\"\ncolumn = \"score\"\nat_least = 5\nfor = \"4m\"\nwindow = \"(0, 12m]\"\nwhere = { domain = \"skola\" }",
        ),
        // The first score of at least 5 after 1 March: August (153 days).
        outcome(
            "name = \"school_first\"\ntable = \"assessments\"\naggregate = \"time_to_event\"\ncolumn = \"score\"\nat_least = 5\nwindow = \"(0, 12m]\"\nwhere = { domain = \"skola\" }",
        ),
        known("name = \"age\"\ntable = \"clients\"\naggregate = \"attribute\"\ncolumn = \"age\""),
        known("name = \"female\"\ntable = \"clients\"\naggregate = \"any\"\nwhere = { sex = \"F\" }"),
        // Months paid before, for the household, ever: c2 January-February
        // before 1 March, January-May before 15 May (May is dated the 1st).
        known(
            "name = \"paid_before\"\ntable = \"payments\"\naggregate = \"months_with\"\nwindow = \"(-inf, 0)\"\nby = \"household\"",
        ),
    ];
    let out = compute(tmp.path(), d("2025-12-31"), index.lazy(), &vars).unwrap().collect().unwrap();
    let i64s =
        |c: &str| out.column(c).unwrap().cast(&DataType::Int64).unwrap().i64().unwrap().iter().collect::<Vec<_>>();
    assert_eq!(i64s("off2"), [Some(183), Some(108), Some(89), Some(89)]);
    assert_eq!(i64s("off3"), [Some(305), Some(230), Some(120), Some(119)]);
    assert_eq!(i64s("off3_short"), [None, None, Some(120), Some(119)]);
    assert_eq!(i64s("school_run"), [Some(275), Some(200), None, None]);
    assert_eq!(i64s("school_first"), [Some(153), Some(78), None, None]);
    assert_eq!(i64s("age"), [Some(43), Some(43), Some(32), Some(15)]);
    let female: Vec<Option<bool>> = out.column("female").unwrap().bool().unwrap().iter().collect();
    assert_eq!(female, [Some(false), Some(false), Some(true), Some(true)]);
    assert_eq!(i64s("paid_before"), [Some(2), Some(5), Some(0), Some(0)]);
}

/// The options a model's features need (`same`, `anchor`, `cap`, `fill`,
/// `transform`, `is`, `bands`, `severity`, `count_distinct`, `none`, a
/// case's attribute and the household's other members), on a second
/// hand-made register.
#[test]
fn feature_options_equal_the_hand_computed_values() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // c1 and c2 share household H1; c3 lives alone in H3.
    let clients = df!("client_id" => ["c1", "c2", "c3"], "household_id" => ["H1", "H1", "H3"],
        "birth_year" => [2008, 1980, 1990], "sex" => ["F", "M", "F"])
    .unwrap();
    write_entity(dir, schema::table("clients").unwrap(), clients).unwrap();
    // c1: K0 (child_youth, 2019), K9 (financial_assistance, 2020), K8 and
    // K7 (child_youth, 2020 and 2021), K1 (child_youth, opened 2022-03-01,
    // closed 2023-06-30); c2: K2 opened 2023-01-10; c3: K3 opened 2024-01-01.
    let cases = df!(
        "case_id" => ["K0", "K9", "K8", "K7", "K1", "K2", "K3"],
        "client_id" => ["c1", "c1", "c1", "c1", "c1", "c2", "c3"],
        "unit" => ["bou_norr", "eb_norr", "bou_norr", "bou_norr", "bou_soder", "eb_norr", "eb_norr"],
        "area" => ["child_youth", "financial_assistance", "child_youth", "child_youth", "child_youth", "financial_assistance", "financial_assistance"],
        "origin" => ["report"; 7],
        "opened" => [d("2019-05-01"), d("2020-02-01"), d("2020-09-01"), d("2021-04-01"), d("2022-03-01"), d("2023-01-10"), d("2024-01-01")],
        "closed" => [Some(d("2019-12-01")), None, Some(d("2021-01-01")), Some(d("2021-10-01")), Some(d("2023-06-30")), None, None],
    )
    .unwrap();
    write_entity(dir, schema::table("cases").unwrap(), cases).unwrap();
    // K1's interventions: one ended planned in 2022-10, one unplanned in
    // 2023-05 (the latest), one still running; one decided and denied.
    let interventions = df!(
        "intervention_id" => ["I1", "I2", "I3", "I4"],
        "client_id" => ["c1"; 4],
        "case_id" => ["K1"; 4],
        "type" => ["family_support"; 4],
        "decided" => [d("2022-03-15"), d("2022-11-01"), d("2023-05-20"), d("2022-04-01")],
        "granted" => [true, true, true, false],
        "started" => [Some(d("2022-04-01")), Some(d("2022-11-15")), Some(d("2023-06-01")), None],
        "ended" => [Some(d("2022-10-01")), Some(d("2023-05-01")), None, None],
        "end_reason" => [Some("planned"), Some("unplanned"), None, None],
    )
    .unwrap();
    write_entity(dir, schema::table("interventions").unwrap(), interventions).unwrap();
    // K1: 3 contacts by the closure, one after it.
    let contacts = df!(
        "contact_id" => ["T1", "T2", "T3", "T4"],
        "client_id" => ["c1"; 4],
        "case_id" => ["K1"; 4],
        "date" => [d("2022-03-02"), d("2022-06-01"), d("2023-06-30"), d("2023-07-01")],
    )
    .unwrap();
    write_entity(dir, schema::table("contacts").unwrap(), contacts).unwrap();
    // K1's assessments: stjarna skola 3 then 6 (baseline 3: (5 - 3) / 2 =
    // +1), psykbel total 22 ((22 - 15) / 7 = +1), and one after the closure.
    let assessments = df!(
        "assessment_id" => ["A1", "A2", "A3", "A4"],
        "client_id" => ["c1"; 4],
        "case_id" => ["K1"; 4],
        "instrument" => ["stjarna", "stjarna", "psykbel", "psykbel"],
        "domain" => ["skola", "skola", "total", "total"],
        "score" => [3.0, 6.0, 22.0, 1.0],
        "assessed" => [d("2022-04-01"), d("2022-12-01"), d("2022-05-01"), d("2023-08-01")],
    )
    .unwrap();
    write_entity(dir, schema::table("assessments").unwrap(), assessments).unwrap();
    // c1's reports: R1 on K8 (child_youth) in 2022-05, R2 on K9
    // (financial_assistance) in 2022-07, R3 on no case in 2023-01.
    let reports = df!(
        "report_id" => ["R1", "R2", "R3"],
        "client_id" => ["c1"; 3],
        "case_id" => [Some("K8"), Some("K9"), None],
        "kind" => ["report"; 3],
        "received" => [d("2022-05-01"), d("2022-07-01"), d("2023-01-01")],
    )
    .unwrap();
    write_entity(dir, schema::table("reports").unwrap(), reports).unwrap();

    // The member: c1's case K1 at its closure, and K1 again at 2022-06-01.
    let index = df!(
        "client_id" => ["c1", "c1"],
        "household_id" => ["H1", "H1"],
        "case_id" => ["K1", "K1"],
        "area" => ["child_youth", "child_youth"],
        "opened" => [d("2022-03-01"), d("2022-03-01")],
        "index_date" => [d("2023-06-30"), d("2022-06-01")],
    )
    .unwrap();
    let by_case = "by = \"case\"\nwindow = \"[-inf, 0]\"";
    let vars = vec![
        known("name = \"unit\"\ntable = \"cases\"\naggregate = \"attribute\"\ncolumn = \"unit\"\nby = \"case\""),
        known("name = \"age\"\ntable = \"clients\"\naggregate = \"attribute\"\ncolumn = \"age\"\nbands = [0, 13, 18]"),
        known(
            "name = \"prior\"\ntable = \"cases\"\naggregate = \"count\"\ndate = \"opened\"\nanchor = \"opened\"\n\
             window = \"[-inf, 0)\"\nsame = [\"area\"]\ncap = 2",
        ),
        known(&format!(
            "name = \"planned\"\ntable = \"interventions\"\naggregate = \"latest\"\ncolumn = \"end_reason\"\n\
             date = \"ended\"\nis = \"planned\"\n{by_case}"
        )),
        known(&format!(
            "name = \"denied\"\ntable = \"interventions\"\naggregate = \"any\"\ndate = \"decided\"\n\
             where = {{ granted = false }}\n{by_case}"
        )),
        known(&format!(
            "name = \"log_contacts\"\ntable = \"contacts\"\naggregate = \"count\"\ntransform = \"log1p\"\n{by_case}"
        )),
        known(&format!(
            "name = \"log_days\"\ntable = \"cases\"\naggregate = \"days_since\"\ndate = \"opened\"\nfill = 0\n\
             transform = \"log1p\"\n{by_case}"
        )),
        known(&format!("name = \"open\"\ntable = \"cases\"\naggregate = \"none\"\ndate = \"closed\"\n{by_case}")),
        known(&format!(
            "name = \"severity\"\ntable = \"assessments\"\naggregate = \"baseline\"\n{by_case}\n\
             severity.stjarna = {{ cutoff = 5.0, sd = 2.0, higher_is_better = true }}\n\
             severity.psykbel = {{ cutoff = 15.0, sd = 7.0, higher_is_better = false }}"
        )),
        known(
            "name = \"others\"\ntable = \"cases\"\naggregate = \"count_distinct\"\ncolumn = \"client_id\"\n\
             date = \"opened\"\nwindow = \"[-inf, 0]\"\nby = \"other_members\"",
        ),
        known(
            "name = \"reports_here\"\ntable = \"reports\"\naggregate = \"count\"\ndate = \"received\"\n\
             window = \"[-inf, 0]\"\nsame = [\"case_id.area\"]",
        ),
        known(
            "name = \"reports_here_or_none\"\ntable = \"reports\"\naggregate = \"count\"\ndate = \"received\"\n\
             window = \"[-inf, 0]\"\nsame = [\"case_id.area\"]\nmissing_is_same = true",
        ),
        known(&format!(
            "name = \"three_contacts\"\ntable = \"contacts\"\naggregate = \"count\"\nreaches = 3\n{by_case}"
        )),
    ];
    let out = compute(dir, d("2025-12-31"), index.lazy(), &vars).unwrap().collect().unwrap();
    let f64s =
        |c: &str| out.column(c).unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().iter().collect::<Vec<_>>();
    let strs =
        |c: &str| out.column(c).unwrap().str().unwrap().iter().map(|s| s.map(str::to_string)).collect::<Vec<_>>();
    let bools = |c: &str| out.column(c).unwrap().bool().unwrap().iter().collect::<Vec<_>>();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(strs("unit"), [s("bou_soder"), s("bou_soder")]);
    // Born 2008: 15 in 2023 and 14 in 2022, both in the band 13-17.
    assert_eq!(strs("age"), [s("13-17"), s("13-17")]);
    // Before K1 was opened, in child_youth: K0, K8, K7 (K9 is another
    // area) = 3, capped at 2; the same from either index date.
    assert_eq!(f64s("prior"), [Some(2.0), Some(2.0)]);
    // The latest ended by the closure: I2, unplanned; by 2022-06-01 none ended.
    assert_eq!(bools("planned"), [Some(false), Some(false)]);
    // I4, denied on 2022-04-01, is known at both dates.
    assert_eq!(bools("denied"), [Some(true), Some(true)]);
    // 3 contacts by the closure, 1 by 2022-06-01 (T2 is on the day: counted, 2).
    assert_eq!(f64s("log_contacts"), [Some(3f64.ln_1p()), Some(2f64.ln_1p())]);
    // 486 days from 2022-03-01 to 2023-06-30; 92 to 2022-06-01.
    assert_eq!(f64s("log_days"), [Some(486f64.ln_1p()), Some(92f64.ln_1p())]);
    // Closed on the index day: not open; on 2022-06-01: open.
    assert_eq!(bools("open"), [Some(false), Some(true)]);
    // At the closure: mean of +1 (stjarna skola) and +1 (psykbel) = 1; on
    // 2022-06-01 the same two baselines are known (4 April and 1 May).
    assert_eq!(f64s("severity"), [Some(1.0), Some(1.0)]);
    // c2's K2 (opened 2023-01-10) is the household's other member's case
    // by the closure; not by 2022-06-01. c1's own cases never count.
    assert_eq!(f64s("others"), [Some(1.0), Some(0.0)]);
    // Reports in K1's area (child_youth) through each report's case: R1
    // only (R2's case is financial_assistance; R3 has none)...
    assert_eq!(f64s("reports_here"), [Some(1.0), Some(1.0)]);
    // ...and with a report on no case counted in every area, R3 too, by the closure.
    assert_eq!(f64s("reports_here_or_none"), [Some(2.0), Some(1.0)]);
    // 3 contacts reach 3; 2 do not.
    assert_eq!(bools("three_contacts"), [Some(true), Some(false)]);
}
