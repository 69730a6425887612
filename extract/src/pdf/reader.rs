//! Reads the text of a PDF page: runs its content stream's text and graphics
//! state operators and hands every shown glyph, with where it lands, to the
//! [`Layout`]. Fonts are built once per reader and kept across pages, the
//! content is tokenized in one pass (see [`super::content`]), and pages are
//! found by their object, so reading any page costs the same.
//!
//! What it cannot read faithfully (a font it does not decode, content that
//! does not inflate) is [`Unsupported`]; the caller then reads the whole
//! document with pdf-extract instead, so a document never mixes two readers.

use std::collections::HashMap;
use std::rc::Rc;

use lopdf::{Dictionary, Document, Object, ObjectId};

use super::content::{Operand, Tokenizer};
use super::fonts::{self, Font, Unsupported};
use super::objects::{entry, number, resolve};
use super::Layout;

/// An affine matrix `[a b c d e f]`, PDF's row-vector convention.
type Matrix = [f64; 6];

const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// `first × second`: first applied, then second.
fn multiply(first: &Matrix, second: &Matrix) -> Matrix {
    let [a1, b1, c1, d1, e1, f1] = *first;
    let [a2, b2, c2, d2, e2, f2] = *second;
    [
        a1 * a2 + b1 * c2,
        a1 * b2 + b1 * d2,
        c1 * a2 + d1 * c2,
        c1 * b2 + d1 * d2,
        e1 * a2 + f1 * c2 + e2,
        e1 * b2 + f1 * d2 + f2,
    ]
}

/// `T(tx, ty) × matrix`: the matrix moved by (tx, ty) in its own space.
fn translate(matrix: &mut Matrix, tx: f64, ty: f64) {
    matrix[4] += tx * matrix[0] + ty * matrix[2];
    matrix[5] += tx * matrix[1] + ty * matrix[3];
}

/// A matrix from exactly six numbers.
fn matrix_from(values: impl IntoIterator<Item = Option<f64>>) -> Option<Matrix> {
    let mut matrix = IDENTITY;
    let mut count = 0;
    for value in values {
        *matrix.get_mut(count)? = value?;
        count += 1;
    }
    (count == 6).then_some(matrix)
}

fn matrix_of(operands: &[Operand]) -> Option<Matrix> {
    matrix_from(operands.iter().map(Operand::number))
}

#[derive(Clone)]
struct GraphicsState {
    ctm: Matrix,
    font: Option<Rc<Font>>,
    font_size: f64,
    character_spacing: f64,
    word_spacing: f64,
    horizontal_scaling: f64,
    leading: f64,
    rise: f64,
}

impl Default for GraphicsState {
    fn default() -> Self {
        GraphicsState {
            ctm: IDENTITY,
            font: None,
            font_size: 0.0,
            character_spacing: 0.0,
            word_spacing: 0.0,
            horizontal_scaling: 1.0,
            leading: 0.0,
            rise: 0.0,
        }
    }
}

/// Saved graphics states deeper than this are not kept (`q` without `Q`).
const MAX_SAVED_STATES: usize = 256;
/// Form XObjects drawn inside forms deeper than this are skipped.
const MAX_FORM_DEPTH: usize = 12;
/// Form XObjects drawn on one page at most: a form that draws another many
/// times, nested, would otherwise multiply the work without bound.
pub const MAX_FORMS_DRAWN_PER_PAGE: usize = 2000;
/// Content read for one page's forms at most, for the same reason: a large
/// form drawn many times.
const MAX_FORM_BYTES_PER_PAGE: usize = 64 << 20;

/// Reads pages of one document, keeping every font it builds.
pub struct PageReader<'d> {
    document: &'d Document,
    fonts: HashMap<ObjectId, Rc<Font>>,
}

/// One content stream being run: its resources and the state it changes.
struct Run<'r, 'd> {
    reader: &'r mut PageReader<'d>,
    layout: &'r mut Layout,
    state: GraphicsState,
    saved: Vec<GraphicsState>,
    text_matrix: Matrix,
    line_matrix: Matrix,
    forms_drawn: usize,
    form_bytes: usize,
}

impl<'d> PageReader<'d> {
    pub fn new(document: &'d Document) -> Self {
        PageReader {
            document,
            fonts: HashMap::new(),
        }
    }

    fn page_entry(&self, page: ObjectId, key: &[u8]) -> Option<&'d Object> {
        let mut dictionary = self.document.get_dictionary(page).ok()?;
        // Inherited entries sit on an ancestor in the page tree.
        for _ in 0..64 {
            if let Ok(value) = dictionary.get(key) {
                return resolve(self.document, value);
            }
            let parent = dictionary.get(b"Parent").ok()?.as_reference().ok()?;
            dictionary = self.document.get_dictionary(parent).ok()?;
        }
        None
    }

    /// The page's height (its media box), for turning PDF's upward y round.
    fn page_height(&self, page: ObjectId) -> f64 {
        let corners = match self.page_entry(page, b"MediaBox") {
            Some(Object::Array(corners)) => corners
                .iter()
                .filter_map(|corner| resolve(self.document, corner).and_then(number))
                .collect::<Vec<f64>>(),
            _ => Vec::new(),
        };
        match corners.as_slice() {
            [_, lower, _, upper] => upper - lower,
            _ => 792.0,
        }
    }

    /// Reads one page into `layout` as its next page.
    pub fn read(&mut self, page: ObjectId, layout: &mut Layout) -> Result<(), Unsupported> {
        let document = self.document;
        // A page's content streams read as one, split between tokens; a
        // newline keeps the last token of one from running into the next.
        let mut content = Vec::new();
        for id in document.get_page_contents(page) {
            let stream = document.get_object(id).and_then(Object::as_stream);
            // A stream that does not inflate is damaged; the rest still reads.
            if let Ok(bytes) = stream.and_then(|stream| stream.get_plain_content()) {
                content.extend_from_slice(&bytes);
                content.push(b'\n');
            }
        }
        let (own, inherited) = document
            .get_page_resources(page)
            .map_err(|_| Unsupported("page resources that cannot be read"))?;
        let mut resources: Vec<&'d Dictionary> = own.into_iter().collect();
        resources.extend(
            inherited
                .into_iter()
                .filter_map(|id| document.get_dictionary(id).ok()),
        );
        layout.begin_page(self.page_height(page));
        let mut run = Run {
            reader: self,
            layout,
            state: GraphicsState::default(),
            saved: Vec::new(),
            text_matrix: IDENTITY,
            line_matrix: IDENTITY,
            forms_drawn: 0,
            form_bytes: 0,
        };
        let result = run.content(&content, &resources, 0);
        layout.end_page();
        result
    }

    /// The named resource of `kind` (`Font`, `XObject`), as its object id
    /// when it is one, and its value.
    fn resource(
        &self,
        resources: &[&'d Dictionary],
        kind: &[u8],
        name: &[u8],
    ) -> Option<(Option<ObjectId>, &'d Object)> {
        let document = self.document;
        resources.iter().find_map(|dictionary| {
            let (_, group) = document.dereference(dictionary.get(kind).ok()?).ok()?;
            let value = group.as_dict().ok()?.get(name).ok()?;
            let id = value.as_reference().ok();
            let (_, value) = document.dereference(value).ok()?;
            Some((id, value))
        })
    }

    fn font(
        &mut self,
        resources: &[&'d Dictionary],
        name: &[u8],
    ) -> Result<Option<Rc<Font>>, Unsupported> {
        let Some((id, value)) = self.resource(resources, b"Font", name) else {
            return Ok(None);
        };
        if let Some(font) = id.and_then(|id| self.fonts.get(&id)) {
            return Ok(Some(font.clone()));
        }
        let dictionary = value
            .as_dict()
            .map_err(|_| Unsupported("a font that is not a dictionary"))?;
        let font = Rc::new(fonts::load(self.document, dictionary)?);
        if let Some(id) = id {
            self.fonts.insert(id, font.clone());
        }
        Ok(Some(font))
    }
}

impl<'d> Run<'_, 'd> {
    fn show(&mut self, bytes: &[u8]) {
        let Some(font) = self.state.font.clone() else {
            return;
        };
        let state = &self.state;
        let scaling = state.horizontal_scaling;
        let size = state.font_size;
        let text_to_device = multiply(&self.text_matrix, &state.ctm);
        let mut advanced = 0.0;
        let layout = &mut *self.layout;
        font.each_glyph(bytes, |is_space, text, width| {
            // Trm = [Th 0 0 1 0 Trise] × T(advanced) × Tm × CTM.
            let position = [scaling, 0.0, 0.0, 1.0, advanced * scaling, state.rise];
            let rendering = multiply(&position, &text_to_device);
            layout.glyph(&rendering, width, size, text);
            let mut spacing = state.character_spacing;
            if is_space {
                spacing += state.word_spacing;
            }
            advanced += width * size + spacing;
        });
        translate(&mut self.text_matrix, advanced * scaling, 0.0);
    }

    fn next_line(&mut self, tx: f64, ty: f64) {
        translate(&mut self.line_matrix, tx, ty);
        self.text_matrix = self.line_matrix;
    }

    fn draw_form(
        &mut self,
        resources: &[&'d Dictionary],
        name: &[u8],
        depth: usize,
    ) -> Result<(), Unsupported> {
        if depth >= MAX_FORM_DEPTH || self.forms_drawn >= MAX_FORMS_DRAWN_PER_PAGE {
            return Ok(());
        }
        let Some((_, Object::Stream(form))) = self.reader.resource(resources, b"XObject", name)
        else {
            return Ok(());
        };
        if form.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Form") {
            return Ok(());
        }
        self.forms_drawn += 1;
        let content = form
            .get_plain_content()
            .map_err(|_| Unsupported("a form whose content does not decode"))?;
        self.form_bytes += content.len();
        if self.form_bytes > MAX_FORM_BYTES_PER_PAGE {
            return Ok(());
        }
        let document = self.reader.document;
        let own = entry(document, &form.dict, b"Resources").and_then(|value| value.as_dict().ok());
        let mut form_resources: Vec<&'d Dictionary> = own.into_iter().collect();
        form_resources.extend_from_slice(resources);
        let matrix = match entry(document, &form.dict, b"Matrix") {
            Some(Object::Array(items)) => matrix_from(
                items
                    .iter()
                    .map(|item| resolve(document, item).and_then(number)),
            )
            .unwrap_or(IDENTITY),
            _ => IDENTITY,
        };
        let saved = self.state.clone();
        let saved_depth = self.saved.len();
        let (text_matrix, line_matrix) = (self.text_matrix, self.line_matrix);
        self.state.ctm = multiply(&matrix, &self.state.ctm);
        let result = self.content(&content, &form_resources, depth + 1);
        self.state = saved;
        self.saved.truncate(saved_depth);
        self.text_matrix = text_matrix;
        self.line_matrix = line_matrix;
        result
    }

    fn content(
        &mut self,
        content: &[u8],
        resources: &[&'d Dictionary],
        depth: usize,
    ) -> Result<(), Unsupported> {
        let mut tokenizer = Tokenizer::new(content);
        let mut operands: Vec<Operand> = Vec::new();
        while let Some(operator) = tokenizer.next_operation(&mut operands) {
            let number = |index: usize| operands.get(index).and_then(Operand::number);
            match operator {
                b"q" if self.saved.len() < MAX_SAVED_STATES => {
                    self.saved.push(self.state.clone());
                }
                b"Q" => {
                    if let Some(state) = self.saved.pop() {
                        self.state = state;
                    }
                }
                b"cm" => {
                    if let Some(matrix) = matrix_of(&operands) {
                        self.state.ctm = multiply(&matrix, &self.state.ctm);
                    }
                }
                b"BT" => {
                    self.text_matrix = IDENTITY;
                    self.line_matrix = IDENTITY;
                }
                b"Tf" => {
                    if let (Some(Operand::Name(name)), Some(size)) = (operands.first(), number(1)) {
                        self.state.font = self.reader.font(resources, name)?;
                        self.state.font_size = size;
                    }
                }
                b"Tc" => self.state.character_spacing = number(0).unwrap_or(0.0),
                b"Tw" => self.state.word_spacing = number(0).unwrap_or(0.0),
                b"Tz" => self.state.horizontal_scaling = number(0).unwrap_or(100.0) / 100.0,
                b"TL" => self.state.leading = number(0).unwrap_or(0.0),
                b"Ts" => self.state.rise = number(0).unwrap_or(0.0),
                b"Td" | b"TD" => {
                    if let (Some(tx), Some(ty)) = (number(0), number(1)) {
                        if operator == b"TD" {
                            self.state.leading = -ty;
                        }
                        self.next_line(tx, ty);
                    }
                }
                b"Tm" => {
                    if let Some(matrix) = matrix_of(&operands) {
                        self.text_matrix = matrix;
                        self.line_matrix = matrix;
                    }
                }
                b"T*" => self.next_line(0.0, -self.state.leading),
                b"Tj" => {
                    if let Some(Operand::String(bytes)) = operands.first() {
                        self.show(bytes);
                    }
                }
                b"'" => {
                    self.next_line(0.0, -self.state.leading);
                    if let Some(Operand::String(bytes)) = operands.first() {
                        self.show(bytes);
                    }
                }
                b"\"" => {
                    if let (Some(word), Some(character), Some(Operand::String(bytes))) =
                        (number(0), number(1), operands.get(2))
                    {
                        self.state.word_spacing = word;
                        self.state.character_spacing = character;
                        self.next_line(0.0, -self.state.leading);
                        self.show(bytes);
                    }
                }
                b"TJ" => {
                    if let Some(Operand::Array(items)) = operands.first() {
                        for item in items {
                            match item {
                                Operand::String(bytes) => self.show(bytes),
                                Operand::Number(adjustment) => {
                                    // Thousandths of a text space unit, leftwards.
                                    let tx = -adjustment / 1000.0
                                        * self.state.font_size
                                        * self.state.horizontal_scaling;
                                    translate(&mut self.text_matrix, tx, 0.0);
                                }
                                _ => {}
                            }
                        }
                    }
                }
                b"Do" => {
                    if let Some(Operand::Name(name)) = operands.first() {
                        self.draw_form(resources, name, depth)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}
