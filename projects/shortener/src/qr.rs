//! QR codes of a link's short URL, as PNG and as SVG.
//!
//! **Roadmap:** the project's links leave the screen: a QR code per link, for print and slides.
//!
//! **Python:** `qrcode.make(url).save(buffer, "PNG")` (with Pillow), or `segno`.
//!
//! **Rust:** the `qrcode` crate makes the matrix (error correction level M: a sixth of the code may
//! be smudged) and writes the SVG itself; the PNG is the same matrix drawn at 8 pixels a module,
//! with the 4-module quiet zone the standard asks for, and written by the `png` crate, so that no
//! image library is compiled. Both are public (the short URL is printed on posters anyway), only
//! for links that exist, and cacheable for a day: a code's short URL never changes.
//!
//! **Why:** SVG for print (it scales without blur), PNG for everything that will not take SVG.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, get, web};
use common::ApiError;
use common::extract::Path;
use qrcode::{Color, EcLevel, QrCode};

use crate::Shortener;

/// Pixels a module, in the PNG.
const SCALE: usize = 8;
/// Modules of blank margin on each side.
const QUIET: usize = 4;

/// The QR code of `code`'s short URL, when the link exists.
async fn matrix(shortener: &Shortener, code: &str) -> Result<QrCode, ApiError> {
    crate::links::must_exist(shortener, code).await?;
    let url = format!("{}/{code}", shortener.public_url);
    QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).map_err(ApiError::internal)
}

/// The matrix as an 8-bit grey PNG.
pub fn png(code: &QrCode) -> anyhow::Result<Vec<u8>> {
    let modules = code.width();
    let side = (modules + 2 * QUIET) * SCALE;
    let colors = code.to_colors();
    let mut pixels = vec![255_u8; side * side];
    for (index, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let (x, y) = (index % modules + QUIET, index / modules + QUIET);
            for row in y * SCALE..(y + 1) * SCALE {
                pixels[row * side + x * SCALE..row * side + (x + 1) * SCALE].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let side = u32::try_from(side)?;
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&pixels)?;
    Ok(out)
}

fn image(
    content_type: &'static str,
    body: impl actix_web::body::MessageBody + 'static,
) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=86400"),
        ))
        .body(body)
}

#[utoipa::path(
    tag = "links",
    params(("code" = String, Path, description = "The link's code")),
    responses(
        (status = 200, description = "The short URL as a QR code", content_type = "image/png"),
        (status = 404, description = "No such link", content_type = "application/problem+json", body = common::Problem),
    ),
)]
#[get("/links/{code}/qr.png")]
pub(crate) async fn qr_png(
    shortener: web::Data<Shortener>,
    Path(code): Path<String>,
) -> Result<HttpResponse, ApiError> {
    let matrix = matrix(&shortener, &code).await?;
    let bytes = png(&matrix).map_err(ApiError::internal)?;
    Ok(image("image/png", bytes))
}

#[utoipa::path(
    tag = "links",
    params(("code" = String, Path, description = "The link's code")),
    responses(
        (status = 200, description = "The short URL as a QR code", content_type = "image/svg+xml"),
        (status = 404, description = "No such link", content_type = "application/problem+json", body = common::Problem),
    ),
)]
#[get("/links/{code}/qr.svg")]
pub(crate) async fn qr_svg(
    shortener: web::Data<Shortener>,
    Path(code): Path<String>,
) -> Result<HttpResponse, ApiError> {
    let matrix = matrix(&shortener, &code).await?;
    let svg = matrix
        .render::<qrcode::render::svg::Color<'_>>()
        .quiet_zone(true)
        .min_dimensions(256, 256)
        .build();
    Ok(image("image/svg+xml", svg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_is_the_matrix_at_eight_pixels_a_module() {
        let code = QrCode::with_error_correction_level(b"http://127.0.0.1:8101/abc123", EcLevel::M)
            .unwrap();
        let bytes = png(&code).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        let modules = code.width();
        assert_eq!(info.width as usize, (modules + 8) * SCALE);
        // The finder pattern's corner module (0, 0) is dark, its quiet zone light.
        let side = info.width as usize;
        let at = |x: usize, y: usize| pixels[y * side + x];
        assert_eq!(at(QUIET * SCALE + 1, QUIET * SCALE + 1), 0);
        assert_eq!(at(1, 1), 255);
        assert_eq!(code.to_colors()[0], Color::Dark);
    }
}
