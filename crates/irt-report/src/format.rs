//! Values as the report prints them, in tables, sentences and axis labels alike. Every
//! formatter turns a non-finite value into "—", so no "NaN" or "inf" reaches the page.

use serde_json::Value;

/// Shown for a value that is missing or not a finite number.
pub const MISSING: &str = "—";

/// About four significant digits: fixed notation from 0.001 to 100,000, scientific outside.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return MISSING.to_string();
    }
    let magnitude = x.abs();
    if magnitude == 0.0 {
        return "0".to_string();
    }
    if !(1e-3..1e5).contains(&magnitude) {
        return format!("{x:.2e}");
    }
    let decimals = (3 - magnitude.log10().floor() as i32).clamp(0, 4) as usize;
    trim_zeros(format!("{x:.decimals$}"))
}

/// Exactly `decimals` places, for columns that line up.
pub fn fixed(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return MISSING.to_string();
    }
    if x.abs() >= 1e9 {
        return format!("{x:.2e}");
    }
    format!("{x:.decimals$}")
}

/// A count with thousands separators: 1,200,000. Fractions are rounded.
pub fn count(x: f64) -> String {
    if !x.is_finite() {
        return MISSING.to_string();
    }
    if x.abs() >= 1e15 {
        return format!("{x:.2e}");
    }
    let digits = format!("{:.0}", x.abs());
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if x.round() < 0.0 {
        grouped.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    grouped
}

/// A count with its noun: "1 item", "1,200 items".
pub fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", count(n as f64), if n == 1 { one } else { many })
}

/// [`num`] of a value that may be missing.
pub fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| MISSING.to_string(), num)
}

/// The most elements of one array [`json`] lists.
const MAX_LISTED: usize = 50;

/// Plain text of any JSON value, for settings whose shape is not fixed: numbers as [`num`],
/// arrays in brackets (at most 50 elements), objects as `key: value; …`.
pub fn json(v: &Value) -> String {
    match v {
        Value::Null => MISSING.to_string(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), num),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let mut parts: Vec<String> = items.iter().take(MAX_LISTED).map(json).collect();
            if items.len() > MAX_LISTED {
                parts.push(format!("and {} more", items.len() - MAX_LISTED));
            }
            format!("[{}]", parts.join(", "))
        }
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", json(v)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_about_four_significant_digits() {
        assert_eq!(num(1.6601), "1.66");
        assert_eq!(num(-654642.9), "-6.55e5");
        assert_eq!(num(0.00164), "0.0016");
        assert_eq!(num(3.6e-5), "3.60e-5");
        assert_eq!(num(12.345), "12.35");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(f64::NAN), MISSING);
        assert_eq!(num(f64::INFINITY), MISSING);
    }

    #[test]
    fn counts_are_grouped() {
        assert_eq!(count(1_200_000.0), "1,200,000");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(-1234.0), "-1,234");
        assert_eq!(count(0.0), "0");
        assert_eq!(count(f64::NEG_INFINITY), MISSING);
    }

    #[test]
    fn any_json_reads_as_text() {
        let v = serde_json::json!({"on": true, "points": 61, "range": [-6, 6], "x": null});
        assert_eq!(json(&v), "on: yes; points: 61; range: [-6, 6]; x: —");
        let long = Value::Array((0..60).map(Value::from).collect());
        assert!(json(&long).ends_with("49, and 10 more]"));
    }

    #[test]
    fn counts_take_their_noun() {
        assert_eq!(counted(1, "item", "items"), "1 item");
        assert_eq!(counted(1200, "item", "items"), "1,200 items");
    }

    #[test]
    fn fixed_places() {
        assert_eq!(fixed(1.0, 3), "1.000");
        assert_eq!(fixed(-654642.94, 1), "-654642.9");
        assert_eq!(fixed(f64::NAN, 2), MISSING);
    }
}
