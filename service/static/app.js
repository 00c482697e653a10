/* aihub-qa chat page. Plain ES2020, no dependencies.
 *
 * SECURITY: every piece of text that comes from the server or the user is put
 * into the DOM with textContent / createTextNode only. This file never uses
 * any API that parses strings as HTML.
 */
(() => {
  "use strict";

  // Limits and modes come from the server (GET /api/config): the page keeps no copy of them.
  const K_MIN = 1;
  const config = { maxK: 1, defaultK: 1, modes: [], defaultMode: "" };
  const REQUEST_TIMEOUT_MS = 60000;
  const KEY_STORAGE = "aihub-qa-api-key"; // this tab only (sessionStorage)
  const MSG_ASK_KEY = "이 서버는 API 키가 필요합니다. API 키를 입력하세요.";

  const MODE_LABELS = { hybrid: "하이브리드", dense: "의미 검색", bm25: "키워드" };
  const MSG_UNREACHABLE = "서버에 연결할 수 없습니다. 네트워크 상태를 확인한 뒤 다시 시도해 주세요.";
  const MSG_TIMEOUT = "서버 응답 시간이 초과되었습니다. 잠시 후 다시 시도해 주세요.";
  const MSG_BAD_RESPONSE = "서버 응답을 해석할 수 없습니다.";

  // ---------------------------------------------------------------- helpers

  /** Create an element. `props`: className, text, attrs{}, dataset-free testid, on{}. */
  function el(tag, props, children) {
    const node = document.createElement(tag);
    if (props) {
      if (props.className) node.className = props.className;
      if (props.text != null) node.textContent = String(props.text);
      if (props.testid) node.setAttribute("data-testid", props.testid);
      if (props.attrs) {
        for (const [name, value] of Object.entries(props.attrs)) {
          if (value != null && value !== false) node.setAttribute(name, value === true ? "" : String(value));
        }
      }
      if (props.on) {
        for (const [type, fn] of Object.entries(props.on)) node.addEventListener(type, fn);
      }
    }
    if (children) {
      for (const child of children) {
        if (child == null || child === false) continue;
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    }
    return node;
  }

  function isFiniteNumber(v) {
    return typeof v === "number" && Number.isFinite(v);
  }

  function toText(v) {
    return v == null ? "" : String(v);
  }

  /** Clamp a [start, end) range to a string; returns null if it is unusable. */
  function validRange(text, start, end) {
    if (!Number.isInteger(start) || !Number.isInteger(end)) return null;
    const s = Math.max(0, Math.min(start, text.length));
    const e = Math.max(0, Math.min(end, text.length));
    if (e <= s) return null;
    return [s, e];
  }

  /** Append text to `container`, with text.slice(start, end) wrapped in `mark`. Returns the mark or null. */
  function appendWithMark(container, text, start, end, markProps) {
    const range = validRange(text, start, end);
    if (!range) {
      container.appendChild(document.createTextNode(text));
      return null;
    }
    const [s, e] = range;
    if (s > 0) container.appendChild(document.createTextNode(text.slice(0, s)));
    const mark = el("mark", markProps);
    mark.textContent = text.slice(s, e);
    container.appendChild(mark);
    if (e < text.length) container.appendChild(document.createTextNode(text.slice(e)));
    return mark;
  }

  function formatDate(published) {
    const raw = toText(published).trim();
    if (!raw) return "";
    const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(raw);
    if (m) return `${m[1]}.${m[2]}.${m[3]}`;
    return raw;
  }

  function formatScore(v) {
    if (!isFiniteNumber(v)) return "–";
    const abs = Math.abs(v);
    if (abs !== 0 && abs < 0.001) return v.toExponential(2);
    return v.toFixed(abs >= 100 ? 1 : 3);
  }

  function formatTook(ms) {
    if (!isFiniteNumber(ms)) return "";
    if (ms >= 1000) return `${(ms / 1000).toFixed(2)}초`;
    return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)}ms`;
  }

  /** Only allow http(s) links from server data. */
  function safeHttpUrl(url) {
    if (typeof url !== "string" || !url.trim()) return null;
    try {
      const u = new URL(url.trim(), window.location.href);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch (_) {
      return null;
    }
  }

  /** Turn a FastAPI error body into a readable message. */
  function errorMessageFrom(body, status) {
    const detail = body && typeof body === "object" ? body.detail : undefined;
    const fromItem = (item) => {
      if (item == null) return "";
      if (typeof item === "string") return item;
      if (typeof item === "object") {
        const msg = toText(item.msg || item.message).trim();
        let loc = Array.isArray(item.loc) ? item.loc.filter((p) => p !== "body").join(".") : "";
        if (!msg) {
          try { return JSON.stringify(item); } catch (_) { return ""; }
        }
        return loc ? `${loc}: ${msg}` : msg;
      }
      return String(item);
    };
    let msg = "";
    if (typeof detail === "string") msg = detail.trim();
    else if (Array.isArray(detail)) msg = detail.map(fromItem).filter(Boolean).join("\n");
    else if (detail && typeof detail === "object") msg = fromItem(detail);
    if (msg) return msg;
    if (status === 404) return "요청한 자료를 찾을 수 없습니다.";
    if (status === 422) return "요청 형식이 올바르지 않습니다.";
    if (status >= 500) return "서버에서 오류가 발생했습니다. 잠시 후 다시 시도해 주세요.";
    return "요청을 처리하지 못했습니다.";
  }

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.name = "ApiError";
      this.status = status || 0;
    }
  }

  function storedKey() {
    try { return window.sessionStorage.getItem(KEY_STORAGE) || ""; } catch (_) { return ""; }
  }

  function storeKey(key) {
    try {
      if (key) window.sessionStorage.setItem(KEY_STORAGE, key);
      else window.sessionStorage.removeItem(KEY_STORAGE);
    } catch (_) { /* storage disabled: the key lasts until the page reloads */ }
  }

  /** fetch JSON; throws ApiError with a readable Korean/server message. On 401 asks for the API key
   *  once, keeps it in this tab's session storage and sends it as a bearer token from then on. */
  async function fetchJson(url, options, retried) {
    const key = storedKey();
    if (key) {
      options = Object.assign({}, options, {
        headers: Object.assign({}, options && options.headers, { Authorization: `Bearer ${key}` }),
      });
    }
    const controller = typeof AbortController === "function" ? new AbortController() : null;
    let timedOut = false;
    const timer = controller
      ? setTimeout(() => { timedOut = true; controller.abort(); }, REQUEST_TIMEOUT_MS)
      : null;
    let res;
    try {
      res = await fetch(url, Object.assign({}, options, controller ? { signal: controller.signal } : {}));
    } catch (_) {
      if (timer) clearTimeout(timer);
      throw new ApiError(timedOut ? MSG_TIMEOUT : MSG_UNREACHABLE, 0);
    }
    let body = null;
    let parsed = false;
    try {
      const raw = await res.text();
      if (raw) { body = JSON.parse(raw); parsed = true; }
    } catch (_) {
      parsed = false;
    } finally {
      if (timer) clearTimeout(timer);
    }
    if (res.status === 401 && !retried) {
      storeKey("");
      const entered = (window.prompt(MSG_ASK_KEY) || "").trim();
      if (entered) {
        storeKey(entered);
        return fetchJson(url, options, true);
      }
    }
    if (!res.ok) {
      throw new ApiError(errorMessageFrom(parsed ? body : null, res.status), res.status);
    }
    if (!parsed || body == null || typeof body !== "object") {
      throw new ApiError(MSG_BAD_RESPONSE, res.status);
    }
    return body;
  }

  function spinner() {
    return el("span", { className: "spinner", attrs: { "aria-hidden": "true" } });
  }

  // ------------------------------------------------------------- elements

  const $ = (id) => document.getElementById(id);
  const conversation = $("conversation");
  const welcome = $("welcome");
  const form = $("composer");
  const input = $("question-input");
  const sendButton = $("send-button");
  const modeSelect = $("mode-select");
  const kSelect = $("k-select");

  const viewer = $("source-viewer");
  const viewerKicker = $("viewer-kicker");
  const viewerTitle = $("viewer-title");
  const viewerMeta = $("viewer-meta");
  const viewerBody = $("viewer-body");
  const viewerStatus = $("viewer-status");
  const sourceText = $("source-text");
  const closeButton = $("source-close");

  /** Fill the k and mode choices and the question length from the server's configuration. */
  const configLoaded = fetchJson("/api/config", { headers: { Accept: "application/json" } }).then((c) => {
    config.maxK = Number.isInteger(c.max_k) ? c.max_k : 1;
    config.defaultK = Number.isInteger(c.default_k) ? c.default_k : 1;
    config.modes = Array.isArray(c.modes) ? c.modes.map(String) : [];
    config.defaultMode = toText(c.default_mode);
    for (let k = K_MIN; k <= config.maxK; k++) {
      kSelect.appendChild(el("option", { text: String(k), attrs: { value: String(k) } }));
    }
    kSelect.value = String(config.defaultK);
    for (const mode of config.modes) {
      modeSelect.appendChild(el("option", { text: MODE_LABELS[mode] || mode, attrs: { value: mode } }));
    }
    modeSelect.value = config.defaultMode;
    if (Number.isInteger(c.max_question_chars)) input.maxLength = c.max_question_chars;
    form.dataset.ready = "true";
  });
  configLoaded.catch(() => {}); // shown when the user sends a question (see submit)

  const finePointer = window.matchMedia && window.matchMedia("(pointer: fine)").matches;
  let busy = false;

  // ------------------------------------------------------------- composer

  function autoGrow() {
    input.style.height = "auto";
    const max = 160;
    input.style.height = `${Math.min(input.scrollHeight, max)}px`;
    input.style.overflowY = input.scrollHeight > max ? "auto" : "hidden";
  }

  function setBusy(value) {
    busy = value;
    sendButton.disabled = value;
    sendButton.setAttribute("aria-busy", value ? "true" : "false");
    form.classList.toggle("is-busy", value);
  }

  input.addEventListener("input", autoGrow);
  input.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter" || ev.shiftKey) return;
    // Do not send while a Korean IME composition is in progress.
    if (ev.isComposing || ev.keyCode === 229) return;
    ev.preventDefault();
    submit();
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    submit();
  });

  for (const btn of document.querySelectorAll("#examples .example")) {
    btn.addEventListener("click", () => {
      input.value = btn.textContent;
      autoGrow();
      submit();
    });
  }

  function currentK() {
    const k = parseInt(kSelect.value, 10);
    return Number.isInteger(k) ? Math.min(config.maxK, Math.max(K_MIN, k)) : config.defaultK;
  }

  function currentMode() {
    const m = modeSelect.value;
    return config.modes.includes(m) ? m : config.defaultMode;
  }

  async function submit() {
    if (busy) return;
    try {
      await configLoaded;
    } catch (err) {
      const box = renderError(err instanceof ApiError ? err.message : MSG_UNREACHABLE, err.status || 0, () => {
        window.location.reload();
      });
      conversation.appendChild(box);
      return;
    }
    const question = input.value.trim();
    if (!question) {
      input.focus();
      return;
    }
    input.value = "";
    autoGrow();
    if (welcome && welcome.parentNode) welcome.remove();

    const turn = el("div", { className: "turn" });
    const bubble = el("div", { className: "bubble bubble-user", testid: "user-question" });
    bubble.appendChild(el("p", { className: "bubble-text", text: question }));
    bubble.appendChild(el("p", {
      className: "bubble-meta",
      text: `${MODE_LABELS[currentMode()] || currentMode()} · 구절 ${currentK()}개`,
    }));
    turn.appendChild(bubble);
    conversation.appendChild(turn);
    runQuery(turn, { question, k: currentK(), mode: currentMode() });
  }

  function scrollConversationTo(node) {
    const top = node.offsetTop - 12;
    conversation.scrollTop = Math.max(0, top);
  }

  async function runQuery(turn, params) {
    setBusy(true);
    const loading = el("div", {
      className: "bubble bubble-loading",
      testid: "loading",
      attrs: { role: "status" },
    }, [spinner(), el("span", { text: "답변을 찾는 중…" })]);
    turn.appendChild(loading);
    conversation.scrollTop = conversation.scrollHeight;

    try {
      const data = await fetchJson("/api/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(params),
      });
      loading.remove();
      const answer = renderAnswer(data);
      turn.appendChild(answer);
      scrollConversationTo(turn);
    } catch (err) {
      loading.remove();
      const message = err instanceof ApiError ? err.message : MSG_UNREACHABLE;
      const status = err instanceof ApiError ? err.status : 0;
      const box = renderError(message, status, () => {
        box.remove();
        runQuery(turn, params);
      });
      turn.appendChild(box);
      scrollConversationTo(box);
    } finally {
      setBusy(false);
      if (finePointer) input.focus({ preventScroll: true });
    }
  }

  function renderError(message, status, onRetry) {
    const heading = status ? `오류가 발생했습니다 (${status})` : "오류가 발생했습니다";
    return el("div", {
      className: "bubble bubble-error",
      testid: "error",
      attrs: { role: "alert" },
    }, [
      el("p", { className: "error-title", text: heading }),
      el("p", { className: "error-text", text: message }),
      onRetry
        ? el("button", {
          className: "link-button",
          text: "다시 시도",
          attrs: { type: "button" },
          on: { click: () => { if (!busy) onRetry(); } },
        })
        : null,
    ]);
  }

  // --------------------------------------------------------------- answers

  function renderAnswer(data) {
    const passages = Array.isArray(data.passages) ? data.passages : [];
    const answer = el("section", { className: "answer", testid: "answer", attrs: { "aria-label": "검색 결과" } });

    const metaBits = [];
    const modeLabel = MODE_LABELS[data.mode] || toText(data.mode);
    if (modeLabel) metaBits.push(modeLabel);
    metaBits.push(`구절 ${passages.length}개`);
    const took = formatTook(data.took_ms);
    if (took) metaBits.push(took);
    answer.appendChild(el("p", { className: "answer-meta", testid: "took", text: metaBits.join(" · ") }));

    const sentence = data.answer && typeof data.answer === "object" ? data.answer : null;
    if (data.answered === true && sentence) {
      answer.appendChild(renderAnswerLine(sentence, data.confidence, passages));
    } else {
      answer.appendChild(el("div", { className: "decline", testid: "declined", attrs: { role: "status" } }, [
        el("p", { className: "decline-title", text: "기사에서 답을 찾지 못했습니다" }),
        el("p", { className: "decline-text", text: passages.length
          ? `${confidenceLabel(data.confidence)} · 아래는 질문과 가장 가까운 구절입니다.`
          : confidenceLabel(data.confidence) }),
      ]));
    }

    if (passages.length === 0) {
      answer.appendChild(el("p", { className: "answer-empty", testid: "no-results", text: "관련 구절을 찾지 못했습니다" }));
      return answer;
    }

    const list = el("ol", { className: "passages" });
    passages.forEach((p, i) => list.appendChild(renderPassage(p || {}, i)));
    answer.appendChild(list);
    return answer;
  }

  /** Confidence in words: 높음 (0.8+), 보통 (0.5+), 낮음. The number stays in the tooltip. */
  function confidenceLevel(c) {
    if (!isFiniteNumber(c)) return "low";
    return c >= 0.8 ? "high" : c >= 0.5 ? "medium" : "low";
  }
  const CONFIDENCE_WORDS = { high: "높음", medium: "보통", low: "낮음" };
  function confidenceLabel(c) {
    return `신뢰도 ${CONFIDENCE_WORDS[confidenceLevel(c)]}`;
  }

  function renderAnswerLine(sentence, confidence, passages) {
    const citation = sentence.citation && typeof sentence.citation === "object" ? sentence.citation : {};
    const rank = Number.isInteger(sentence.rank) ? sentence.rank : 1;
    const passage = passages[rank - 1] && passages[rank - 1].citation ? passages[rank - 1].citation : null;
    const title = toText(citation.title).trim() || "(제목 없음)";
    const chip = el("button", {
      className: "cite cite-chip",
      testid: "answer-citation",
      attrs: { type: "button", title: "원문에서 이 문장 보기", "aria-label": `[${rank}] ${title} — 원문에서 답 문장 보기` },
    }, [el("span", { className: "cite-num", text: `[${rank}]` }), el("span", { className: "cite-title", text: title })]);
    chip.addEventListener("click", () => openSource(citation, rank, chip, passage));
    const level = confidenceLevel(confidence);
    return el("div", { className: "answer-line", testid: "answer-line" }, [
      el("p", { className: "answer-sentence", testid: "answer-sentence", text: toText(sentence.text) }),
      el("p", { className: "answer-source" }, [
        chip,
        el("span", {
          className: `confidence confidence-${level}`,
          testid: "confidence",
          text: confidenceLabel(confidence),
          attrs: { title: isFiniteNumber(confidence) ? `신뢰도 ${confidence.toFixed(2)} (0–1)` : null },
        }),
      ]),
    ]);
  }

  function renderPassage(p, index) {
    const rank = Number.isInteger(p.rank) ? p.rank : index + 1;
    const citation = p.citation && typeof p.citation === "object" ? p.citation : {};
    const title = toText(citation.title).trim() || "(제목 없음)";
    const text = toText(p.text);

    const card = el("li", { className: "card", testid: "passage" });

    // Head: citation button + score
    const citeBtn = el("button", {
      className: "cite",
      testid: "citation",
      attrs: { type: "button", title: "원문에서 인용 위치 보기", "aria-label": `[${rank}] ${title} — 원문 보기` },
    }, [
      el("span", { className: "cite-num", text: `[${rank}]` }),
      el("span", { className: "cite-title", text: title }),
    ]);
    const h = p.highlight && typeof p.highlight === "object" ? p.highlight : {};
    const start = Number.isInteger(citation.start) ? citation.start : null;
    const sentenceCitation = start != null && validRange(text, h.start, h.end)
      ? Object.assign({}, citation, { start: start + h.start, end: start + h.end })
      : citation;
    citeBtn.addEventListener("click", () => openSource(sentenceCitation, rank, citeBtn, citation));

    card.appendChild(el("div", { className: "card-head" }, [citeBtn]));

    // Meta: source · date · author
    const meta = el("p", { className: "card-meta" });
    const bits = [];
    const source = toText(citation.source).trim();
    if (source) bits.push(el("span", { className: "meta-source", text: source }));
    const date = formatDate(citation.published);
    if (date) bits.push(el("time", { className: "meta-date", text: date, attrs: { datetime: toText(citation.published) } }));
    const author = toText(citation.author).trim();
    if (author) bits.push(el("span", { className: "meta-author", text: author }));
    bits.forEach((b, i) => {
      if (i > 0) meta.appendChild(el("span", { className: "meta-sep", text: " · ", attrs: { "aria-hidden": "true" } }));
      meta.appendChild(b);
    });
    if (bits.length) card.appendChild(meta);

    // Passage text with highlighted best sentence
    const body = el("p", { className: "card-text" });
    appendWithMark(body, text, h.start, h.end, { className: "hl", testid: "passage-highlight" });
    card.appendChild(body);

    // Raw scores, for those who want them, behind a toggle.
    const sub = subScores(p);
    card.appendChild(el("details", { className: "score-details", testid: "score-details" }, [
      el("summary", { text: "점수 자세히" }),
      el("p", { className: "score", attrs: { title: scoreTitle(p) } }, [
        el("span", { className: "score-label", text: "순위 점수 " }),
        el("span", { className: "score-value", testid: "score", text: formatScore(p.score) }),
        sub ? el("span", { className: "meta-subscores", text: ` (${sub})` }) : null,
      ]),
    ]));
    return card;
  }

  function subScores(p) {
    const s = p.scores && typeof p.scores === "object" ? p.scores : {};
    const parts = [];
    if (isFiniteNumber(s.dense)) parts.push(`의미 ${formatScore(s.dense)}`);
    if (isFiniteNumber(s.bm25)) parts.push(`BM25 ${formatScore(s.bm25)}`);
    return parts.join(" / ");
  }

  function scoreTitle(p) {
    const sub = subScores(p);
    return sub ? `종합 점수 ${formatScore(p.score)} (${sub})` : `점수 ${formatScore(p.score)}`;
  }

  // ---------------------------------------------------------- source viewer

  const docCache = new Map();
  let viewerToken = 0;
  let viewerOpener = null;
  let activeCite = null;

  function setActiveCite(btn) {
    if (activeCite) {
      activeCite.classList.remove("is-active");
      activeCite.removeAttribute("aria-current");
      const card = activeCite.closest(".card");
      if (card) card.classList.remove("is-active");
    }
    activeCite = btn || null;
    if (activeCite) {
      activeCite.classList.add("is-active");
      activeCite.setAttribute("aria-current", "true");
      const card = activeCite.closest(".card");
      if (card) card.classList.add("is-active");
    }
  }

  function clearNode(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function setViewerStatus(children, kind) {
    clearNode(viewerStatus);
    viewerStatus.className = `viewer-status${kind ? ` is-${kind}` : ""}`;
    for (const c of children) viewerStatus.appendChild(c);
  }

  function fillViewerMeta(info) {
    clearNode(viewerMeta);
    const bits = [];
    const source = toText(info.source).trim();
    if (source) bits.push(el("span", { text: source }));
    const date = formatDate(info.published);
    if (date) bits.push(el("time", { text: date, attrs: { datetime: toText(info.published) } }));
    const author = toText(info.author).trim();
    if (author) bits.push(el("span", { text: author }));
    const href = safeHttpUrl(info.url);
    if (href) {
      bits.push(el("a", {
        className: "viewer-link",
        text: "기사 원문 열기",
        attrs: { href, target: "_blank", rel: "noopener noreferrer" },
      }));
    }
    bits.forEach((b, i) => {
      if (i > 0) viewerMeta.appendChild(el("span", { className: "meta-sep", text: " · ", attrs: { "aria-hidden": "true" } }));
      viewerMeta.appendChild(b);
    });
  }

  /**
   * Append `text` to `container`: the passage range shaded, the sentence range marked.
   * Line breaks are never wrapped, so no blank line is ever highlighted. Returns the first mark.
   */
  function appendCited(container, text, passageRange, sentenceRange) {
    const cuts = new Set([0, text.length]);
    for (const r of [passageRange, sentenceRange]) if (r) { cuts.add(r[0]); cuts.add(r[1]); }
    const points = Array.from(cuts).sort((a, b) => a - b);
    let first = null;
    for (let i = 0; i + 1 < points.length; i++) {
      const [s, e] = [points[i], points[i + 1]];
      const inSentence = sentenceRange && s >= sentenceRange[0] && e <= sentenceRange[1];
      const inPassage = passageRange && s >= passageRange[0] && e <= passageRange[1];
      for (const piece of text.slice(s, e).split(/(\s*\n\s*)/)) {
        if (!piece) continue;
        if (/\n/.test(piece) || !(inSentence || inPassage)) {
          container.appendChild(document.createTextNode(piece));
        } else if (inSentence) {
          const mark = el("mark", { className: "cited", testid: "cited-span", text: piece });
          if (!first) { first = mark; mark.id = "cited"; mark.tabIndex = -1; }
          container.appendChild(mark);
        } else {
          container.appendChild(el("span", { className: "cited-passage", testid: "cited-passage", text: piece }));
        }
      }
    }
    return first;
  }

  async function openSource(citation, rank, opener, passage) {
    const token = ++viewerToken;
    viewerOpener = opener || null;
    setActiveCite(opener);

    viewer.hidden = false;
    document.body.classList.add("viewer-open");

    viewerKicker.textContent = `[${rank}] 인용 원문`;
    viewerTitle.textContent = toText(citation.title).trim() || "(제목 없음)";
    fillViewerMeta(citation);
    clearNode(sourceText);
    viewerStatus.removeAttribute("role");
    setViewerStatus([spinner(), el("span", { text: "문서를 불러오는 중…" })], "loading");
    viewerStatus.setAttribute("data-testid", "source-loading");
    viewerBody.scrollTop = 0;
    closeButton.focus({ preventScroll: true });

    const docId = toText(citation.doc_id);
    let doc;
    try {
      if (!docId) throw new ApiError("문서 정보가 없습니다.", 0);
      doc = docCache.get(docId);
      if (!doc) {
        doc = await fetchJson(`/api/documents/${encodeURIComponent(docId)}`, {
          headers: { Accept: "application/json" },
        });
        docCache.set(docId, doc);
      }
    } catch (err) {
      if (token !== viewerToken) return;
      const message = err instanceof ApiError ? err.message : MSG_UNREACHABLE;
      viewerStatus.setAttribute("data-testid", "source-error");
      setViewerStatus([
        el("p", { className: "error-title", text: "문서를 불러오지 못했습니다" }),
        el("p", { className: "error-text", text: message }),
      ], "error");
      viewerStatus.setAttribute("role", "alert");
      return;
    }
    if (token !== viewerToken) return; // a newer citation was clicked meanwhile

    viewerStatus.removeAttribute("role");
    viewerStatus.removeAttribute("data-testid");
    setViewerStatus([], "");
    viewerTitle.textContent = toText(doc.title).trim() || toText(citation.title).trim() || "(제목 없음)";
    fillViewerMeta({
      source: doc.source != null ? doc.source : citation.source,
      published: doc.published != null ? doc.published : citation.published,
      author: doc.author != null ? doc.author : citation.author,
      url: doc.url != null ? doc.url : citation.url,
    });

    const text = toText(doc.text);
    const sentenceRange = validRange(text, citation.start, citation.end);
    const passageRange = passage ? validRange(text, passage.start, passage.end) : null;
    const mark = sentenceRange ? appendCited(sourceText, text, passageRange, sentenceRange) : null;
    if (!mark) {
      clearNode(sourceText);
      sourceText.appendChild(document.createTextNode(text));
      setViewerStatus([el("p", { text: "인용 위치를 문서에서 찾을 수 없어 전체 문서를 표시합니다." })], "note");
      return;
    }
    // Wait for layout (panel may just have become visible) before scrolling.
    requestAnimationFrame(() => {
      if (token !== viewerToken) return;
      mark.scrollIntoView({ block: "center" });
    });
  }

  function closeSource() {
    if (viewer.hidden) return;
    viewerToken++; // cancel pending loads
    viewer.hidden = true;
    document.body.classList.remove("viewer-open");
    clearNode(sourceText);
    setActiveCite(null);
    const opener = viewerOpener;
    viewerOpener = null;
    if (opener && document.contains(opener)) opener.focus({ preventScroll: true });
  }

  closeButton.addEventListener("click", closeSource);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !viewer.hidden) {
      ev.preventDefault();
      closeSource();
    }
  });

  // Short placeholder on phones so it fits on one line.
  const narrowQuery = window.matchMedia ? window.matchMedia("(max-width: 520px)") : null;
  function updatePlaceholder() {
    input.placeholder = narrowQuery && narrowQuery.matches
      ? "질문을 입력하세요"
      : "질문을 입력하세요 (Enter: 보내기, Shift+Enter: 줄바꿈)";
    autoGrow();
  }
  if (narrowQuery) {
    if (narrowQuery.addEventListener) narrowQuery.addEventListener("change", updatePlaceholder);
    else if (narrowQuery.addListener) narrowQuery.addListener(updatePlaceholder);
  }
  updatePlaceholder();
  if (finePointer) input.focus({ preventScroll: true });
})();
