//! Pictures on screen: the textures of the pictures decoded, kept per
//! file (or per picture the user sent from this app, decoded from its
//! local file) in the window's context and bounded (the least recently drawn
//! goes first; drawn again, it is fetched again), and the larger view of
//! one picture in a window of its own (Esc closes it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::picture::Decoded;
use crate::state::PictureOf;

/// Textures kept at most.
pub const TEXTURES_MAX: usize = 64;

#[derive(Default)]
struct Cache {
    textures: HashMap<PictureOf, (egui::TextureHandle, u64)>,
    /// The picture in the larger view, with its name.
    viewing: Option<(PictureOf, String)>,
}

type Shared = Arc<Mutex<Cache>>;

fn with<R>(ctx: &egui::Context, f: impl FnOnce(&mut Cache) -> R) -> R {
    let shared = ctx.data_mut(|d| {
        d.get_temp_mut_or_default::<Shared>(egui::Id::unique("cove_pictures"))
            .clone()
    });
    // Only the UI thread takes it: a poisoned lock is a panic there,
    // already reported; the cache itself is still whole.
    let mut cache = shared.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut cache)
}

/// Keeps a decoded picture as a texture, dropping the least recently
/// drawn one past [`TEXTURES_MAX`].
pub fn store(ctx: &egui::Context, file: PictureOf, picture: Decoded) {
    let size = [picture.width as usize, picture.height as usize];
    let image = egui::ColorImage::from_rgba_unmultiplied(size, &picture.rgba);
    let texture = ctx.load_texture(
        format!("picture-{file:?}"),
        image,
        egui::TextureOptions::LINEAR,
    );
    let now = ctx.cumulative_frame_nr();
    with(ctx, |c| {
        c.textures.insert(file, (texture, now));
        while c.textures.len() > TEXTURES_MAX {
            let oldest = c
                .textures
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => c.textures.remove(&id),
                None => break,
            };
        }
    });
}

/// The texture of a file's picture, if it is kept (and now recently
/// used).
pub fn texture(ctx: &egui::Context, file: &PictureOf) -> Option<egui::TextureHandle> {
    let now = ctx.cumulative_frame_nr();
    with(ctx, |c| {
        c.textures.get_mut(file).map(|(t, used)| {
            *used = now;
            t.clone()
        })
    })
}

/// How many textures are kept.
pub fn kept(ctx: &egui::Context) -> usize {
    with(ctx, |c| c.textures.len())
}

/// Opens the larger view of a picture.
pub(super) fn open_viewer(ctx: &egui::Context, file: PictureOf, name: String) {
    with(ctx, |c| c.viewing = Some((file, name)));
}

/// Closes the larger view; whether it was open.
pub(super) fn close_viewer(ctx: &egui::Context) -> bool {
    with(ctx, |c| c.viewing.take().is_some())
}

/// The larger view, when open: the picture as large as the window
/// allows, up to its own size.
pub(super) fn viewer(ctx: &egui::Context) {
    let Some((file, name)) = with(ctx, |c| c.viewing.clone()) else {
        return;
    };
    let Some(texture) = texture(ctx, &file) else {
        close_viewer(ctx);
        return;
    };
    let mut open = true;
    let screen = ctx.content_rect().size();
    egui::Window::new(name.clone())
        .id(egui::Id::unique("picture_viewer"))
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui| {
            let max = screen * 0.85 - egui::vec2(0.0, 40.0);
            ui.add(
                egui::Image::from_texture(egui::load::SizedTexture::from_handle(&texture))
                    .max_size(max)
                    .alt_text(format!("{name}, larger")),
            );
            ui.label(
                egui::RichText::new("Esc closes")
                    .small()
                    .color(super::entry::NOTICE),
            );
        });
    if !open {
        close_viewer(ctx);
    }
}

#[cfg(test)]
mod tests {
    use cove_common::proto::FileId;

    use super::*;

    fn pixel() -> Decoded {
        Decoded {
            width: 1,
            height: 1,
            rgba: vec![1, 2, 3, 255],
        }
    }

    /// Past the bound the picture drawn longest ago goes; one drawn
    /// recently stays.
    #[test]
    fn textures_are_bounded_and_the_least_recently_drawn_goes_first() {
        let ctx = egui::Context::default();
        let id = |n: u8| PictureOf::File(FileId::from_bytes([n; 16]));
        let frame = |f: &mut dyn FnMut(&egui::Context)| {
            let mut out = ctx.run_ui(egui::RawInput::default(), |ui| f(ui.ctx()));
            // No renderer here to take the textures.
            out.textures_delta.clear();
        };
        for n in 0..TEXTURES_MAX as u8 {
            frame(&mut |ctx| store(ctx, id(n), pixel()));
        }
        frame(&mut |ctx| assert!(texture(ctx, &id(0)).is_some()));
        frame(&mut |ctx| store(ctx, id(200), pixel()));
        frame(&mut |ctx| {
            assert_eq!(kept(ctx), TEXTURES_MAX);
            assert!(texture(ctx, &id(0)).is_some(), "drawn recently");
            assert!(texture(ctx, &id(1)).is_none(), "drawn longest ago");
            assert!(texture(ctx, &id(200)).is_some());
        });
    }
}
