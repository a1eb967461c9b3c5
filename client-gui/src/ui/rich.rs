//! A message's text as the conversation shows it: its light markup
//! ([`crate::markup`]: bold, italic, code, blocks of code), its `@name`s
//! ([`super::mentions`]) and its links, which open in the system's browser
//! (egui's "open URL" command, carried out by eframe).
//!
//! Each text block is one selectable label, as a plain text was before;
//! each link is a clickable area over its own words (and an accessible
//! link), so the text reads, selects and copies as one.
//!
//! The fonts egui bundles have no bold face: bold text is drawn in the
//! theme's strong text colour, as egui's own "strong" text is.

use std::ops::Range;

use cove_common::Username;
use egui::text::{LayoutJob, TextFormat};
use egui::{Color32, Stroke};

use super::entry::NOTICE;
use crate::markup::{self, Block, Span};

/// A text block ready to draw: its layout job, and its links as ranges of
/// characters of the text shown, with the words shown and the address.
pub(super) struct Laid {
    /// The text in its formats.
    pub job: LayoutJob,
    /// The links.
    pub links: Vec<LaidLink>,
}

/// One link of a [`Laid`] text.
pub(super) struct LaidLink {
    /// Its characters in the text shown.
    pub chars: Range<usize>,
    /// Its words.
    pub shown: String,
    /// The address it opens.
    pub url: String,
}

/// The `@name`s of `text`, each with whether it names `me`.
fn mentions(text: &str, me: &Username) -> Vec<(Range<usize>, bool)> {
    cove_common::mentions::mentions(text)
        .map(|(r, who)| (r, who.eq_ignore_ascii_case(me.as_str())))
        .collect()
}

/// The job of one text block: its spans in their formats, `@name`s in the
/// accent colour (outside code and links).
pub(super) fn job(ui: &egui::Ui, text: &str, spans: &[Span], me: &Username) -> Laid {
    let body = egui::TextStyle::Body.resolve(ui.style());
    let mono = egui::TextStyle::Monospace.resolve(ui.style());
    let visuals = ui.visuals();
    let names = mentions(text, me);
    let accent = super::mentions::accent(ui);
    let mut job = LayoutJob::default();
    let mut links = Vec::new();
    let mut chars = 0;
    for s in spans {
        // The label's own colour, as for a text without markup.
        let mut f = TextFormat::simple(body.clone(), Color32::PLACEHOLDER);
        if s.style.bold {
            f.color = visuals.strong_text_color();
        }
        f.italics = s.style.italic;
        if s.style.code {
            f.font_id = mono.clone();
            f.background = visuals.code_bg_color;
        }
        let shown = &text[s.range.clone()];
        let n = shown.chars().count();
        if let Some(url) = &s.link {
            f.color = visuals.hyperlink_color;
            f.underline = Stroke::new(1.0, visuals.hyperlink_color);
            links.push(LaidLink {
                chars: chars..chars + n,
                shown: shown.to_owned(),
                url: url.clone(),
            });
            job.append(shown, 0.0, f);
        } else if s.style.code {
            job.append(shown, 0.0, f);
        } else {
            append_with_mentions(&mut job, text, s.range.clone(), &names, &f, accent, ui);
        }
        chars += n;
    }
    Laid { job, links }
}

/// `range` of `text` in format `f`, with the parts that are `@name`s in
/// the accent colour (on a tint when they name the user).
fn append_with_mentions(
    job: &mut LayoutJob,
    text: &str,
    range: Range<usize>,
    names: &[(Range<usize>, bool)],
    f: &TextFormat,
    accent: Color32,
    ui: &egui::Ui,
) {
    let mut at = range.start;
    for (name, mine) in names {
        let (a, b) = (name.start.max(at), name.end.min(range.end));
        if a >= b {
            continue;
        }
        job.append(&text[at..a], 0.0, f.clone());
        let mut m = f.clone();
        m.color = accent;
        if *mine {
            m.background = super::mentions::tint(ui);
        }
        job.append(&text[a..b], 0.0, m);
        at = b;
    }
    job.append(&text[at..range.end], 0.0, f.clone());
}

/// The rectangles (relative to the galley) of the characters `chars`, one
/// per row they are on.
fn char_rects(galley: &egui::Galley, chars: Range<usize>) -> Vec<egui::Rect> {
    let mut rects = Vec::new();
    let mut start = 0;
    for row in &galley.rows {
        let n = row.glyphs.len();
        let (a, b) = (chars.start.max(start), chars.end.min(start + n));
        if a < b {
            let (first, last) = (&row.glyphs[a - start], &row.glyphs[b - 1 - start]);
            rects.push(egui::Rect::from_min_max(
                egui::pos2(row.pos.x + first.pos.x, row.pos.y),
                egui::pos2(row.pos.x + last.max_x(), row.pos.y + row.size.y),
            ));
        }
        start += row.char_count_including_newline().0;
    }
    rects
}

/// One text block as a selectable label, its links clickable.
fn text_label(ui: &mut egui::Ui, laid: Laid) -> egui::Response {
    let Laid { job, links } = laid;
    let (pos, galley, response) = egui::Label::new(job)
        .selectable(true)
        .wrap()
        .layout_in_ui(ui);
    response.widget_info(|| {
        egui::WidgetInfo::labeled(egui::Role::Label, ui.is_enabled(), galley.text())
    });
    for (n, link) in links.iter().enumerate() {
        for (k, rect) in char_rects(&galley, link.chars.clone())
            .into_iter()
            .enumerate()
        {
            let id = response.id.with(("link", n, k));
            let area = ui.interact(rect.translate(pos.to_vec2()), id, egui::Sense::click());
            if k == 0 {
                area.widget_info(|| {
                    egui::WidgetInfo::labeled(egui::Role::Link, ui.is_enabled(), &link.shown)
                });
            }
            let area = area
                .on_hover_cursor(egui::CursorIcon::PointingHand)
                .on_hover_text(&link.url);
            if area.clicked() || area.middle_clicked() {
                ui.open_url(egui::OpenUrl::new_tab(&link.url));
            }
        }
    }
    if ui.is_rect_visible(response.rect) {
        let colour = ui.visuals().text_color();
        egui::text_selection::LabelSelectionState::label_text_selection(
            ui,
            &response,
            pos,
            galley,
            colour,
            Stroke::NONE,
        );
    }
    response
}

/// A block of code: monospace on the code background, as typed (wrapped
/// at the pane's edge).
fn code_block(ui: &mut egui::Ui, code: &str) {
    let visuals = ui.visuals();
    egui::Frame::new()
        .fill(visuals.code_bg_color)
        .corner_radius(3.0)
        .inner_margin(egui::Margin::symmetric(6, 3))
        .show(ui, |ui| {
            let mono = egui::TextStyle::Monospace.resolve(ui.style());
            let job = LayoutJob::simple_format(
                code.to_owned(),
                TextFormat::simple(mono, Color32::PLACEHOLDER),
            );
            ui.add(egui::Label::new(job).selectable(true).wrap());
        });
}

/// The "(edited)" mark.
fn edited_mark(ui: &mut egui::Ui) {
    ui.label(egui::RichText::new("(edited)").small().color(NOTICE));
}

/// A message's text: its blocks one under the other; `edited` puts the
/// "(edited)" mark after its last line.
pub(super) fn message_text(ui: &mut egui::Ui, text: &str, me: &Username, edited: bool) {
    let blocks = markup::parse(text);
    let last = blocks.len().saturating_sub(1);
    for (i, block) in blocks.into_iter().enumerate() {
        let mark = edited && i == last;
        match block {
            Block::Text(spans) => {
                let laid = job(ui, text, &spans, me);
                if mark {
                    // The mark flows on after the text's last line.
                    ui.scope(|ui| {
                        // Lines as high as the text, as in a message
                        // without the mark (a wrapped row is at least
                        // `interact_size` high).
                        ui.spacing_mut().interact_size.y = 0.0;
                        ui.spacing_mut().item_spacing.x = 4.0;
                        ui.horizontal_wrapped(|ui| {
                            text_label(ui, laid);
                            edited_mark(ui);
                        });
                    });
                } else {
                    text_label(ui, laid);
                }
            }
            Block::Code(range) => {
                code_block(ui, &text[range]);
                if mark {
                    edited_mark(ui);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The job of `text` laid out in a frame of a fresh context, with
    /// `f` asked of it.
    fn with_job<R>(text: &str, me: &str, f: impl FnOnce(&egui::Ui, &Laid) -> R) -> R {
        let ctx = egui::Context::default();
        let mut result = None;
        // Run once, in a closure egui may call again.
        let mut f = Some(f);
        let mut out = ctx.run_ui(egui::RawInput::default(), |ui| {
            let me = Username::new(me).unwrap_or_else(|_| unreachable!());
            let Some(Block::Text(spans)) = markup::parse(text).into_iter().next() else {
                unreachable!("one text block")
            };
            let laid = job(ui, text, &spans, &me);
            if let Some(f) = f.take() {
                result = Some(f(ui, &laid));
            }
        });
        // No painter here to hand the font atlas to.
        out.textures_delta.clear();
        result.unwrap_or_else(|| unreachable!())
    }

    /// The sections of a job as (text, format).
    fn sections(job: &LayoutJob) -> Vec<(String, TextFormat)> {
        job.sections
            .iter()
            .map(|s| {
                (
                    job.text[s.byte_range.start.0..s.byte_range.end.0].to_owned(),
                    s.format.clone(),
                )
            })
            .collect()
    }

    /// The spans coloured are those the server's rule finds, and the
    /// text is kept whole.
    #[test]
    fn mentions_are_coloured_and_the_text_kept() {
        let spans = with_job("hi @Meg and @bob, mail x@bob.org", "meg", |ui, laid| {
            assert_eq!(laid.job.text, "hi @Meg and @bob, mail x@bob.org");
            let a = super::super::mentions::accent(ui);
            sections(&laid.job)
                .into_iter()
                .filter(|(_, f)| f.color == a)
                .map(|(t, f)| (t, f.background != Color32::TRANSPARENT))
                .collect::<Vec<_>>()
        });
        assert_eq!(
            spans,
            [("@Meg".to_owned(), true), ("@bob".to_owned(), false)]
        );
    }

    /// Markers are not shown; bold is in the strong colour, italic
    /// slanted, code monospace on its background, a link in the link
    /// colour, underlined, and known by its characters in the text shown.
    #[test]
    fn markup_is_drawn_in_its_formats() {
        let (text, found, links) = with_job(
            "a *b* _c_ `d` see www.x.org/p. *@meg*",
            "meg",
            |ui, laid| {
                let v = ui.visuals();
                let found: Vec<(String, &str)> = sections(&laid.job)
                    .into_iter()
                    .filter(|(t, _)| !t.trim().is_empty())
                    .map(|(t, f)| {
                        let what = if f.underline.color == v.hyperlink_color
                            && f.color == v.hyperlink_color
                        {
                            "link"
                        } else if f.font_id.family == egui::FontFamily::Monospace
                            && f.background == v.code_bg_color
                        {
                            "code"
                        } else if f.italics {
                            "italic"
                        } else if f.color == v.strong_text_color() {
                            "bold"
                        } else if f.color == super::super::mentions::accent(ui) {
                            "mention"
                        } else {
                            "plain"
                        };
                        (t.trim().to_owned(), what)
                    })
                    .collect();
                let links: Vec<_> = laid
                    .links
                    .iter()
                    .map(|l| (l.chars.clone(), l.shown.clone(), l.url.clone()))
                    .collect();
                (laid.job.text.clone(), found, links)
            },
        );
        assert_eq!(text, "a b c d see www.x.org/p. @meg");
        assert_eq!(
            found,
            [
                ("a".to_owned(), "plain"),
                ("b".to_owned(), "bold"),
                ("c".to_owned(), "italic"),
                ("d".to_owned(), "code"),
                ("see".to_owned(), "plain"),
                ("www.x.org/p".to_owned(), "link"),
                (".".to_owned(), "plain"),
                ("@meg".to_owned(), "mention"),
            ]
        );
        assert_eq!(
            links,
            [(
                12..23,
                "www.x.org/p".to_owned(),
                "https://www.x.org/p".to_owned()
            )]
        );
    }
}
