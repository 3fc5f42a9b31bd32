/**
 * Message text (PROTOCOL §4.2): the server stores and sends bodies and titles escaped; apps
 * get them decoded.
 *
 * On the wire a body is the typed text, normalized, with exactly `&`, `<`, `>` written as
 * `&amp;`, `&lt;`, `&gt;`. {@link decodeText} gives the text back (in one pass: `&amp;lt;` is
 * `&lt;`, what was typed). Render the result as text (a React text node, `textContent`), and
 * send or forward the decoded text, never a body: that would escape it a second time.
 */

const ENTITY = /&(?:amp|lt|gt);/g;
const DECODED: Readonly<Record<string, string>> = { "&amp;": "&", "&lt;": "<", "&gt;": ">" };
// C0 but \t and \n, DEL, C1.
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
// The server's white space (Python's `str.strip`, controls aside); unlike `String.trim` it keeps U+FEFF.
const SPACE = "[\\t\\n \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const OUTER_SPACE = new RegExp(`^${SPACE}+|${SPACE}+$`, "g");

/** The text of a body or title as the server sent it. */
export function decodeText(escaped: string): string {
  return escaped.includes("&") ? escaped.replace(ENTITY, (entity) => DECODED[entity] ?? entity) : escaped;
}

/** What the server keeps of a typed text: controls deleted (`\r\n` → `\n` first), NFC, trimmed. */
export function normalizeText(text: string): string {
  return text.replace(/\r\n/g, "\n").replace(CONTROLS, "").normalize("NFC").replace(OUTER_SPACE, "");
}

/** The body the server will store for `text` (for the copy shown while it is being sent). */
export function encodeText(text: string): string {
  return normalizeText(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
