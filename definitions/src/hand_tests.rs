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
            "variable 'x'.table",
            "a client's",
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
