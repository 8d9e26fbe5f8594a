// A small Markdown renderer for answers: paragraphs, headings, lists, code, emphasis and links. Text is
// escaped before any markup is added, and only http(s) and mailto links become anchors.
const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escape(text) {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]);
}

export function safeUrl(url) {
  return /^(https?:|mailto:)/i.test(url) ? url : "";
}

function inline(text) {
  const codes = [];
  let out = escape(text).replace(/`([^`]+)`/g, (_, code) => {
    codes.push(code);
    return `\u0000${codes.length - 1}\u0000`;
  });
  out = out
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>")
    .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (whole, label, url) => {
      const href = safeUrl(url.replace(/&amp;/g, "&"));
      return href ? `<a href="${escape(href)}" rel="noopener noreferrer" target="_blank">${label}</a>` : label;
    });
  return out.replace(/\u0000(\d+)\u0000/g, (_, i) => `<code>${codes[Number(i)]}</code>`);
}

export function renderMarkdown(source) {
  const html = [];
  let list = null; // "ul" or "ol" while inside a list
  let paragraph = [];
  let code = null;
  const flush = () => {
    if (paragraph.length) html.push(`<p>${inline(paragraph.join(" "))}</p>`);
    paragraph = [];
  };
  const closeList = () => {
    if (list) html.push(`</${list}>`);
    list = null;
  };
  for (const line of source.split("\n")) {
    if (code !== null) {
      if (line.trim().startsWith("```")) {
        html.push(`<pre><code>${escape(code.join("\n"))}</code></pre>`);
        code = null;
      } else code.push(line);
      continue;
    }
    const item = /^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$/.exec(line);
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (line.trim().startsWith("```")) {
      flush();
      closeList();
      code = [];
    } else if (heading) {
      flush();
      closeList();
      const level = Math.min(6, heading[1].length + 2); // below the panel's own headings
      html.push(`<h${level}>${inline(heading[2])}</h${level}>`);
    } else if (item) {
      flush();
      const kind = item[1] ? "ul" : "ol";
      if (list !== kind) {
        closeList();
        html.push(`<${kind}>`);
        list = kind;
      }
      html.push(`<li>${inline(item[3])}</li>`);
    } else if (!line.trim()) {
      flush();
      closeList();
    } else {
      if (list) closeList();
      paragraph.push(line.trim());
    }
  }
  if (code !== null) html.push(`<pre><code>${escape(code.join("\n"))}</code></pre>`);
  flush();
  closeList();
  return html.join("");
}
