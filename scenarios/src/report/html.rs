//! The HTML report: one self-contained file per run (inline CSS, SVG and a few lines of
//! JavaScript; no external assets), with the summary table and, per scenario, a
//! message-sequence (ladder) diagram over the lanes card ↔ handset ↔ network ↔ stub ↔
//! manufacturer. Each arrow's decoded message shows on hover (SVG `<title>`) and in the
//! side panel on click. Built only from [`Event`]s, so any engine gets it for free.

use super::{escape, fmt_virtual, fmt_wall};
use crate::runner::{Event, Lane, Outcome, ScenarioResult};

/// File name of the report inside `--report DIR`.
pub const INDEX: &str = "index.html";

/// At most this many arrows are drawn per scenario (a 10 000-subscriber run would
/// otherwise make a diagram nobody can open); the rest are counted.
pub const MAX_ARROWS: usize = 2000;

const X0: u32 = 110;
const GAP: u32 = 180;
const TOP: u32 = 64;
const ROW: u32 = 30;
const STEP_ROW: u32 = 28;

fn lane_x(l: Lane) -> u32 {
    X0 + GAP * l.index() as u32
}

fn lane_colour(l: Lane) -> &'static str {
    match l {
        Lane::Card => "#b45309",
        Lane::Handset => "#2563eb",
        Lane::Network => "#7c3aed",
        Lane::Stub => "#047857",
        Lane::Manufacturer => "#be123c",
    }
}

fn fmt_t(ms: u64) -> String {
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

/// Hex as bytes separated by spaces, 16 per line.
fn hex_lines(hex: &str) -> String {
    let clean: String = hex.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    let bytes: Vec<&str> = clean
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    bytes
        .chunks(16)
        .map(|l| l.join(" ").to_uppercase())
        .collect::<Vec<_>>()
        .join("\n")
}

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:20px;color:#111;background:#fafafa}
h1{font-size:20px;margin:0 0 12px} h2{font-size:16px;margin:0 0 4px}
table.sum{border-collapse:collapse;margin-bottom:20px;background:#fff}
table.sum td,table.sum th{border:1px solid #ddd;padding:3px 10px;text-align:left}
table.sum td.n{text-align:right;font-variant-numeric:tabular-nums}
.passed{color:#047857;font-weight:600}.FAILED,.ERROR{color:#b91c1c;font-weight:700}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px;margin-bottom:20px}
.meta{color:#555;font-size:12px;margin-bottom:8px}
pre.fail{background:#fef2f2;border:1px solid #fecaca;padding:8px;white-space:pre-wrap;margin:6px 0}
.ladder{display:flex;gap:16px;align-items:flex-start}
.svgwrap{overflow:auto;max-height:80vh;flex:1 1 auto;border:1px solid #eee}
.panel{flex:0 0 380px;position:sticky;top:8px;border:1px solid #ddd;border-radius:6px;padding:10px;background:#f8fafc;font-size:13px}
.panel .ph{color:#555;font-size:12px}.panel .pl{font-weight:700;margin:4px 0}
.panel pre{white-space:pre-wrap;word-break:break-all;margin:4px 0;font:12px/1.35 "DejaVu Sans Mono",monospace}
.panel .px{color:#334155;background:#eef2f7;padding:4px}
svg text{font-family:"DejaVu Sans",sans-serif}
g.ev{cursor:pointer} g.ev:hover .hl,g.ev.sel .hl{fill:#fde68a;fill-opacity:.6}
.lanehead{font-weight:700;font-size:13px}
"#;

const SCRIPT: &str = r#"
document.addEventListener('click',function(e){
 var g=e.target.closest('g.ev'); if(!g) return;
 var s=g.closest('section'), p=s.querySelector('.panel'), d=g.dataset;
 p.querySelector('.ph').textContent=d.t+'  '+d.from+' \u2192 '+d.to;
 p.querySelector('.pl').textContent=d.label;
 p.querySelector('.pd').textContent=d.detail||'(no decoded fields)';
 p.querySelector('.px').textContent=d.hex||'(no bytes)';
 s.querySelectorAll('g.ev.sel').forEach(function(x){x.classList.remove('sel')});
 g.classList.add('sel');
});
// A link such as index.html#e0-5 opens that message in the panel.
window.addEventListener('load',function(){
 var g=location.hash&&document.getElementById(location.hash.slice(1));
 if(g){g.dispatchEvent(new MouseEvent('click',{bubbles:true}));g.scrollIntoView({block:'center'});}
});
"#;

/// The whole report page for a run.
pub fn html_report(title: &str, results: &[ScenarioResult]) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    h.push_str(&format!(
        "<title>{}</title>\n<style>{STYLE}</style></head><body>\n",
        escape(title)
    ));
    h.push_str(&format!("<h1>{}</h1>\n", escape(title)));
    h.push_str("<table class=\"sum\"><tr><th>scenario</th><th>title</th><th>steps</th><th>result</th><th>time</th><th>virtual</th></tr>\n");
    for (i, r) in results.iter().enumerate() {
        h.push_str(&format!(
            "<tr><td><a href=\"#s{i}\">{}</a></td><td>{}</td><td class=\"n\">{}/{}</td><td class=\"{w}\">{w}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
            escape(&r.name),
            escape(&r.title),
            r.steps_run,
            r.steps_total,
            fmt_wall(r.elapsed),
            fmt_virtual(r.virtual_ms),
            w = r.outcome.word()
        ));
    }
    h.push_str("</table>\n");
    for (i, r) in results.iter().enumerate() {
        scenario_section(&mut h, i, r);
    }
    h.push_str(&format!("<script>{SCRIPT}</script>\n</body></html>\n"));
    h
}

fn scenario_section(h: &mut String, i: usize, r: &ScenarioResult) {
    h.push_str(&format!(
        "<section id=\"s{i}\"><h2>{} — {} <span class=\"{w}\">{w}</span></h2>\n<div class=\"meta\">{} · seed {} · {}/{} steps · virtual {} · wall {}</div>\n",
        escape(&r.name),
        escape(&r.title),
        escape(&r.path.display().to_string()),
        r.seed,
        r.steps_run,
        r.steps_total,
        fmt_virtual(r.virtual_ms),
        fmt_wall(r.elapsed),
        w = r.outcome.word()
    ));
    let failed_step = match &r.outcome {
        Outcome::Passed => None,
        Outcome::Failed(f) => {
            h.push_str(&format!(
                "<pre class=\"fail\">{}</pre>\n",
                escape(&f.to_string())
            ));
            Some(f.step)
        }
        Outcome::Error(e) => {
            h.push_str(&format!("<pre class=\"fail\">error: {}</pre>\n", escape(e)));
            None
        }
    };
    h.push_str("<div class=\"ladder\"><div class=\"svgwrap\">");
    h.push_str(&ladder_svg(i, r, failed_step));
    h.push_str("</div><div class=\"panel\"><div class=\"ph\">click an arrow</div><div class=\"pl\"></div><pre class=\"pd\">The decoded message appears here; hovering an arrow shows it too.</pre><pre class=\"px\"></pre></div></div></section>\n");
}

/// The ladder diagram of one scenario as an inline `<svg>`; `section` numbers the
/// arrows' element ids (`e{section}-{n}`, n from 0), so `index.html#e0-5` links to one.
pub fn ladder_svg(section: usize, r: &ScenarioResult, failed_step: Option<usize>) -> String {
    let mut body = String::new();
    let mut y = TOP;
    let mut drawn = 0usize;
    let mut skipped = 0usize;
    let right = lane_x(Lane::Manufacturer) + 110;
    for st in &r.steps {
        let failed = failed_step == Some(st.index);
        let colour = if failed { "#b91c1c" } else { "#64748b" };
        body.push_str(&format!(
            "<line x1=\"4\" y1=\"{ly}\" x2=\"{right}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-dasharray=\"4 3\"/><text x=\"6\" y=\"{ty}\" font-size=\"12\" fill=\"{colour}\" font-weight=\"{fw}\">step {} · {} · t={}{}</text>\n",
            st.index,
            escape(&st.label),
            fmt_t(st.t_ms),
            if failed { " · FAILED" } else { "" },
            ly = y + 6,
            ty = y + 20,
            fw = if failed { 700 } else { 400 },
        ));
        y += STEP_ROW;
        for ev in &st.events {
            if drawn >= MAX_ARROWS {
                skipped += 1;
                continue;
            }
            body.push_str(&arrow(&format!("e{section}-{drawn}"), ev, y));
            drawn += 1;
            y += ROW;
        }
    }
    if skipped > 0 {
        body.push_str(&format!(
            "<text x=\"6\" y=\"{}\" font-size=\"12\" fill=\"#b91c1c\">{skipped} more messages not drawn (limit {MAX_ARROWS})</text>\n",
            y + 18
        ));
        y += ROW;
    }
    if r.steps.is_empty() {
        body.push_str(&format!(
            "<text x=\"6\" y=\"{}\" font-size=\"12\" fill=\"#64748b\">no steps were played</text>\n",
            y + 18
        ));
        y += ROW;
    }
    let height = y + 16;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{right}\" height=\"{height}\" viewBox=\"0 0 {right} {height}\" role=\"img\" aria-label=\"message sequence of {}\">\n<defs>",
        escape(&r.name)
    );
    for l in Lane::ALL {
        s.push_str(&format!(
            "<marker id=\"ah-{n}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{c}\"/></marker>",
            n = l.name(),
            c = lane_colour(l)
        ));
    }
    s.push_str("</defs>\n");
    for l in Lane::ALL {
        let x = lane_x(l);
        s.push_str(&format!(
            "<line x1=\"{x}\" y1=\"44\" x2=\"{x}\" y2=\"{}\" stroke=\"{c}\" stroke-opacity=\".35\" stroke-width=\"2\"/><rect x=\"{rx}\" y=\"14\" width=\"120\" height=\"30\" rx=\"5\" fill=\"{c}\"/><text class=\"lanehead\" x=\"{x}\" y=\"34\" text-anchor=\"middle\" fill=\"#fff\">{}</text>\n",
            height - 8,
            l.name(),
            rx = x - 60,
            c = lane_colour(l)
        ));
    }
    s.push_str(&body);
    s.push_str("</svg>");
    s
}

/// `s` cut to `max` characters with an ellipsis (the full text is in the title and
/// the panel).
fn fit(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Approximate width of one character of the 12 px label font.
const CHAR_PX: u32 = 7;

fn arrow(id: &str, ev: &Event, y: u32) -> String {
    let c = lane_colour(ev.from);
    let (x1, x2) = (lane_x(ev.from), lane_x(ev.to));
    let ay = y + 20;
    let mut tip = ev.label.clone();
    for d in &ev.detail_lines {
        tip.push('\n');
        tip.push_str(d);
    }
    let hex = hex_lines(&ev.raw_hex);
    if !hex.is_empty() {
        tip.push('\n');
        tip.push_str(&hex);
    }
    let mut g = format!(
        "<g class=\"ev\" id=\"{id}\" data-t=\"{}\" data-from=\"{}\" data-to=\"{}\" data-label=\"{}\" data-detail=\"{}\" data-hex=\"{}\"><title>{}</title>",
        fmt_t(ev.t_ms),
        ev.from,
        ev.to,
        escape(&ev.label),
        escape(&ev.detail_lines.join("\n")),
        escape(&hex),
        escape(&tip)
    );
    let halo =
        "paint-order=\"stroke\" stroke=\"#fff\" stroke-width=\"4\" stroke-linejoin=\"round\"";
    g.push_str(&format!(
        "<rect class=\"hl\" x=\"0\" y=\"{y}\" width=\"{}\" height=\"{ROW}\" fill=\"transparent\"/><text x=\"6\" y=\"{}\" font-size=\"11\" fill=\"#64748b\">{}</text>",
        lane_x(Lane::Manufacturer) + 110,
        ay + 4,
        fmt_t(ev.t_ms)
    ));
    if x1 == x2 {
        // Loops open to the right, except on the two right-most lanes (to the left).
        let left = ev.from >= Lane::Stub;
        let (dx, tx, anchor) = if left {
            (-34i32, x1 - 40, "end")
        } else {
            (34, x1 + 40, "start")
        };
        let room = if left {
            x1 - 80
        } else {
            lane_x(Lane::Manufacturer) + 100 - x1
        };
        g.push_str(&format!(
            "<path d=\"M{x1},{a} h{dx} v12 h{ndx}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"1.6\" marker-end=\"url(#ah-{n})\"/><text x=\"{tx}\" y=\"{ty}\" font-size=\"12\" text-anchor=\"{anchor}\" fill=\"{c}\" {halo}>{}</text>",
            escape(&fit(&ev.label, (room / CHAR_PX) as usize)),
            a = ay - 8,
            ndx = -dx,
            ty = ay + 2,
            n = ev.from.name()
        ));
    } else {
        let mid = (x1 + x2) / 2;
        g.push_str(&format!(
            "<line x1=\"{x1}\" y1=\"{ay}\" x2=\"{x2}\" y2=\"{ay}\" stroke=\"{c}\" stroke-width=\"1.6\" marker-end=\"url(#ah-{n})\"/><text x=\"{mid}\" y=\"{ty}\" font-size=\"12\" text-anchor=\"middle\" fill=\"{c}\" {halo}>{}</text>",
            escape(&fit(&ev.label, (x1.abs_diff(x2) / CHAR_PX) as usize)),
            ty = ay - 5,
            n = ev.from.name()
        ));
    }
    g.push_str("</g>\n");
    g
}
