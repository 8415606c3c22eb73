/*
 * The example project's browser uploader: plain JavaScript, no dependency, no build step.
 *
 * It speaks the chunked upload protocol: PUT the first chunk to the list URL, PUT the next ones to
 * the upload's URL with a Content-Range header, then POST the whole file's MD5 to complete. The
 * upload's URL is kept in localStorage (keyed by the file's name, size and date), so choosing the
 * same file after a reload asks the server for the offset and resumes there. WebCrypto has no MD5
 * and no incremental digests, hence the small incremental MD5 (RFC 1321) below; on resume it
 * re-reads the already uploaded part of the file locally, never from the server.
 *
 * With more than one connection, the upload uses the server's parallel mode (`Upload-Mode:
 * parallel` on the first chunk): that many chunks travel at once, and resuming sends the chunks
 * the upload's `ranges` do not cover. The MD5 is then computed from the file before completing.
 * The request that creates the upload carries an `Idempotency-Key`, so that its retry after a lost
 * answer gets the upload the server made instead of a second one.
 */
"use strict";

(function () {
  // -- MD5, incremental (RFC 1321) ------------------------------------------------------------

  const SHIFTS = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
    5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
    6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
  ];
  // floor(abs(sin(i + 1)) * 2^32), written out so no engine's sin() can differ.
  const CONSTANTS = new Int32Array([
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
  ]);

  class MD5 {
    constructor() {
      this.state = new Int32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]);
      this.buffer = new Uint8Array(64);
      this.buffered = 0;
      this.length = 0; // bytes; a Number is exact up to 2^53
      this.words = new Int32Array(16);
    }

    update(bytes) {
      let position = 0;
      this.length += bytes.length;
      if (this.buffered > 0) {
        position = Math.min(64 - this.buffered, bytes.length);
        this.buffer.set(bytes.subarray(0, position), this.buffered);
        this.buffered += position;
        if (this.buffered < 64) return this;
        this.block(this.buffer, 0);
        this.buffered = 0;
      }
      for (; position + 64 <= bytes.length; position += 64) this.block(bytes, position);
      this.buffer.set(bytes.subarray(position), 0);
      this.buffered = bytes.length - position;
      return this;
    }

    block(bytes, offset) {
      const words = this.words;
      for (let i = 0; i < 16; i++) {
        const at = offset + 4 * i;
        words[i] = bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24);
      }
      let [a, b, c, d] = this.state;
      for (let i = 0; i < 64; i++) {
        let f, g;
        if (i < 16) [f, g] = [(b & c) | (~b & d), i];
        else if (i < 32) [f, g] = [(d & b) | (~d & c), (5 * i + 1) % 16];
        else if (i < 48) [f, g] = [b ^ c ^ d, (3 * i + 5) % 16];
        else [f, g] = [c ^ (b | ~d), (7 * i) % 16];
        const sum = (a + f + CONSTANTS[i] + words[g]) | 0;
        [a, d, c] = [d, c, b];
        b = (b + ((sum << SHIFTS[i]) | (sum >>> (32 - SHIFTS[i])))) | 0;
      }
      const state = this.state;
      state[0] += a;
      state[1] += b;
      state[2] += c;
      state[3] += d;
    }

    /** The digest of everything so far, as hex; the running state is left untouched. */
    hexdigest() {
      const copy = new MD5();
      copy.state.set(this.state);
      copy.buffer.set(this.buffer);
      copy.buffered = this.buffered;
      const bits = new Uint8Array(8);
      const view = new DataView(bits.buffer);
      view.setUint32(0, (this.length % 0x20000000) * 8, true);
      view.setUint32(4, Math.floor(this.length / 0x20000000), true);
      const padding = new Uint8Array(((119 - this.buffered) % 64) + 1);
      padding[0] = 0x80;
      copy.update(padding).update(bits);
      const out = new DataView(new ArrayBuffer(16));
      copy.state.forEach((word, i) => out.setInt32(4 * i, word, true)); // MD5 is little-endian
      let hex = "";
      for (let i = 0; i < 16; i++) hex += out.getUint8(i).toString(16).padStart(2, "0");
      return hex;
    }
  }

  // -- the protocol ---------------------------------------------------------------------------

  const HASH_READ = 4 * 1024 * 1024;
  const PAUSED = Symbol("paused");
  const RETRIES = 8;

  class HttpError extends Error {
    constructor(response, body) {
      super((body && body.detail) || `${response.status} ${response.statusText}`);
      this.status = response.status;
      this.code = (body && body.code) || "";
      this.body = body || {};
    }
    get retryable() {
      return this.status >= 500 || this.code === "upload_busy";
    }
  }

  class Upload {
    constructor(root, file) {
      this.root = root;
      this.file = file;
      this.listUrl = root.dataset.listUrl;
      this.chunkSize = Number(root.dataset.chunkSize);
      this.csrfToken = root.dataset.csrfToken;
      this.key = `chunked-upload:${file.name}:${file.size}:${file.lastModified}`;
      this.url = localStorage.getItem(this.key);
      this.offset = 0;
      this.md5 = new MD5();
      this.hashed = 0;
      this.paused = false;
      this.connections = 1;
      // Sent with the request that creates the upload and with its retries: if the first answer
      // was lost, the server answers a retry with the upload it made (no second upload).
      const random = crypto.getRandomValues(new Uint8Array(16)); // also on plain http
      this.idempotencyKey = `"${Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("")}"`;
    }

    async request(method, url, { body, headers = {} } = {}) {
      const response = await fetch(url, {
        method,
        body,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": this.csrfToken, ...headers },
      });
      const data = response.status === 204 ? null : await response.json().catch(() => null);
      if (!response.ok) throw new HttpError(response, data);
      return data;
    }

    /** The server's record of a saved upload, or null when there is none (any more). */
    async saved() {
      if (!this.url) return null;
      try {
        const record = await this.request("GET", this.url);
        if (record.size === this.file.size) return record;
      } catch (error) {
        if (!(error instanceof HttpError) || error.retryable) throw error;
      }
      this.forget();
      return null;
    }

    forget() {
      localStorage.removeItem(this.key);
      this.url = null;
    }

    async run(onProgress) {
      if (this.connections > 1 && this.file.size > 0) return this.runParallel(onProgress);
      this.paused = false;
      const record = await this.saved();
      this.offset = record ? record.offset : 0;
      if (record && record.status === "complete") return record;
      let failures = 0;
      while (!this.paused) {
        try {
          if (this.offset >= this.file.size) return await this.complete();
          await this.sendChunk();
          failures = 0;
          onProgress(this.offset);
        } catch (error) {
          if (error instanceof HttpError && !error.retryable) throw error;
          if (++failures > RETRIES) throw error;
          await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** (failures - 1)));
          if (this.url) this.offset = (await this.request("GET", this.url)).offset;
        }
      }
      return null;
    }

    /** Parallel mode: the first chunk creates the upload, then `connections` workers send the
     * chunks that the upload's `ranges` do not cover; a worker retries its own chunk. */
    async runParallel(onProgress) {
      this.paused = false;
      let record = await this.saved();
      if (record && record.status === "complete") return record;
      if (!record) {
        const creation = { "Upload-Mode": "parallel", "Idempotency-Key": this.idempotencyKey };
        record = await this.withRetries(() => this.putChunk(this.listUrl, 0, creation));
        this.url = record.url;
        localStorage.setItem(this.key, record.url);
      }
      const missing = this.missingChunks(record.ranges || []);
      let stored = this.file.size - missing.reduce((sum, [start, end]) => sum + end - start, 0);
      onProgress(stored);
      const worker = async () => {
        while (missing.length && !this.paused) {
          const [start, end] = missing.shift();
          let pieces = [];
          const sent = await this.withRetries(
            () => this.putChunk(this.url, start, {}, end).catch((error) => {
              if (!(error instanceof HttpError && error.code === "range_overlap")) throw error;
              // Only the bytes the answer's ranges show stored count; the rest is sent again.
              pieces = this.uncovered(start, end, error.body.ranges || []);
              if (pieces.length === 1 && pieces[0][0] === start && pieces[0][1] === end) {
                throw new Error(`the server refused bytes ${start}-${end - 1} it does not report stored`);
              }
              return null;
            }),
            () => this.paused,
          );
          if (sent === PAUSED) break; // the chunk is sent again on resume (the ranges lack it)
          missing.unshift(...pieces);
          stored += end - start - pieces.reduce((sum, [from, to]) => sum + to - from, 0);
          this.offset = stored;
          onProgress(stored);
        }
      };
      await Promise.all(Array.from({ length: this.connections }, worker));
      return this.paused ? null : this.withRetries(() => this.complete());
    }

    /** The pieces `[start, end)` of `[from, to)` outside `ranges` (inclusive `[first, last]`). */
    uncovered(from, to, ranges) {
      const pieces = [];
      let position = from;
      for (const [first, last] of [...ranges].sort((a, b) => a[0] - b[0])) {
        if (first > position && position < to) pieces.push([position, Math.min(first, to)]);
        position = Math.max(position, last + 1);
      }
      if (position < to) pieces.push([position, to]);
      return pieces;
    }

    missingChunks(ranges) {
      const chunks = [];
      let position = 0;
      for (const [start, end] of [...ranges, [this.file.size, this.file.size - 1]]) {
        for (let at = position; at < start; at += this.chunkSize) {
          chunks.push([at, Math.min(at + this.chunkSize, start)]);
        }
        position = Math.max(position, end + 1);
      }
      return chunks;
    }

    async putChunk(url, start, headers = {}, end = Math.min(start + this.chunkSize, this.file.size)) {
      return this.request("PUT", url, {
        body: new Uint8Array(await this.file.slice(start, end).arrayBuffer()),
        headers: {
          "Content-Type": "application/octet-stream",
          "Content-Range": `bytes ${start}-${end - 1}/${this.file.size}`,
          "Content-Disposition": `attachment; filename*=UTF-8''${encodeURIComponent(this.file.name)}`,
          ...headers,
        },
      });
    }

    /** `send()` until it succeeds, backing off after a retryable failure; `PAUSED` instead of
     * another try once `stopped()` says the user paused (a pause need not wait for the back-off). */
    async withRetries(send, stopped = () => false) {
      for (let failures = 0; ; ) {
        try {
          return await send();
        } catch (error) {
          if (error instanceof HttpError && !error.retryable) throw error;
          if (++failures > RETRIES) throw error;
          if (stopped()) return PAUSED;
          await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** (failures - 1)));
          if (stopped()) return PAUSED;
        }
      }
    }

    async sendChunk() {
      const start = this.offset;
      const end = Math.min(start + this.chunkSize, this.file.size);
      const bytes = new Uint8Array(await this.file.slice(start, end).arrayBuffer());
      await this.hashTo(start);
      let record;
      try {
        record = await this.request("PUT", this.url || this.listUrl, {
          body: bytes,
          headers: {
            "Content-Type": "application/octet-stream",
            "Content-Range": `bytes ${start}-${end - 1}/${this.file.size}`,
            "Content-Disposition": `attachment; filename*=UTF-8''${encodeURIComponent(this.file.name)}`,
            ...(this.url ? {} : { "Idempotency-Key": this.idempotencyKey }),
          },
        });
      } catch (error) {
        if (!(error instanceof HttpError) || error.code !== "offset_mismatch") throw error;
        this.offset = error.body.expected_offset; // someone else moved it: go on from there
        return;
      }
      if (!this.url) {
        this.url = record.url;
        localStorage.setItem(this.key, record.url);
      }
      if (record.offset === end && this.hashed === start) {
        this.md5.update(bytes);
        this.hashed = end;
      }
      this.offset = record.offset;
    }

    /** Bring the digest to `offset`, reading the file (after a reload or an unexpected offset). */
    async hashTo(offset) {
      if (this.hashed > offset) [this.md5, this.hashed] = [new MD5(), 0];
      while (this.hashed < offset) {
        const end = Math.min(this.hashed + HASH_READ, offset);
        this.md5.update(new Uint8Array(await this.file.slice(this.hashed, end).arrayBuffer()));
        this.hashed = end;
      }
    }

    async complete() {
      await this.hashTo(this.file.size);
      const checksum = this.md5.hexdigest();
      let record;
      if (this.file.size === 0) {
        const form = new FormData();
        form.append("file", this.file);
        form.append("md5", checksum);
        record = await this.request("POST", this.listUrl, { body: form });
      } else {
        record = await this.request("POST", this.url, {
          body: JSON.stringify({ md5: checksum }),
          headers: { "Content-Type": "application/json" },
        });
      }
      this.forget();
      return { ...record, md5: checksum };
    }
  }

  // -- the page -------------------------------------------------------------------------------

  function formatBytes(bytes) {
    const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let unit = 0;
    for (; bytes >= 1024 && unit < units.length - 1; unit++) bytes /= 1024;
    return unit === 0 ? `${bytes} bytes` : `${bytes.toFixed(1)} ${units[unit]}`;
  }

  function setUp(root) {
    const input = root.querySelector("#file");
    const startButton = root.querySelector("#start");
    const pauseButton = root.querySelector("#pause");
    const progress = root.querySelector("#progress");
    const status = root.querySelector("#status");
    const result = root.querySelector("#result");
    let upload = null;

    function show(state, message) {
      root.dataset.state = state;
      status.textContent = message;
      startButton.disabled = !upload || state === "uploading" || state === "complete";
      pauseButton.disabled = state !== "uploading";
    }

    function showOffset(offset) {
      const size = upload.file.size;
      root.dataset.offset = String(offset);
      progress.max = size || 1;
      progress.value = size ? offset : 1;
      const percent = size ? ((100 * offset) / size).toFixed(1) : "100.0";
      return `${formatBytes(offset)} of ${formatBytes(size)} (${percent} %)`;
    }

    input.addEventListener("change", async () => {
      result.hidden = true;
      upload = input.files.length ? new Upload(root, input.files[0]) : null;
      if (!upload) return show("idle", "Choose a file.");
      upload.connections = Number(root.querySelector("#connections").value) || 1;
      startButton.textContent = "Upload";
      if (root.dataset.checksum !== "md5") {
        return show("error", `This page computes MD5; the server expects ${root.dataset.checksum}.`);
      }
      try {
        const record = await upload.saved();
        if (record && record.status !== "complete") {
          startButton.textContent = "Resume";
          return show("resumable", `Resumable: ${showOffset(record.offset)} already uploaded.`);
        }
      } catch (error) {
        return show("error", `Could not ask the server: ${error.message}`);
      }
      showOffset(0);
      show("ready", `Ready to upload ${upload.file.name} (${formatBytes(upload.file.size)}).`);
    });

    startButton.addEventListener("click", async () => {
      upload.connections = Number(root.querySelector("#connections").value) || 1;
      show("uploading", `Uploading: ${showOffset(upload.offset)}`);
      try {
        const record = await upload.run((offset) => {
          if (!upload.paused) show("uploading", `Uploading: ${showOffset(offset)}`);
        });
        if (record === null) {
          startButton.textContent = "Resume";
          return show("paused", `Paused: ${showOffset(upload.offset)}`);
        }
        showOffset(record.size);
        startButton.textContent = "Upload";
        result.textContent = JSON.stringify(record, null, 2);
        result.hidden = false;
        show("complete", `Complete: ${record.filename}, ${formatBytes(record.size)}, MD5 verified by the server.`);
      } catch (error) {
        startButton.textContent = "Retry";
        show("error", `Upload failed: ${error.message}`);
      }
    });

    pauseButton.addEventListener("click", () => {
      upload.paused = true; // takes effect when the chunk in flight is acknowledged
      pauseButton.disabled = true;
      status.textContent = "Pausing after this chunk…";
    });
  }

  window.chunkedUploads = { MD5, Upload };
  const root = document.getElementById("uploader");
  if (root) setUp(root);
})();
