// Uploads one file with tus-js-client under Node, as an application would; driven by
// tests/test_tus_js_client.py. One JSON argument:
//   {endpoint, token, file, chunkSize?, parallelUploads?, abortAt?, storage?, resume?, protocol?,
//    loseFinalAnswer?}
// abortAt (0..1) aborts the upload once that fraction is sent; storage is the FileUrlStorage file
// where the upload URL is kept, and resume looks the file's upload up there first, as a restarted
// application does. loseFinalAnswer makes the first answer to a final upload (parallelUploads)
// fail as a dropped connection does, after the server made it. Prints one JSON line per request
// sent and one at the end (success, aborted, error).
import { createReadStream, statSync } from "node:fs";
import { FileUrlStorage, Upload } from "tus-js-client";

const options = JSON.parse(process.argv[2]);
const size = statSync(options.file).size;
const say = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
let aborting = false;
let lostFinalAnswer = false;

const upload = new Upload(createReadStream(options.file), {
  endpoint: options.endpoint,
  headers: { Authorization: `Token ${options.token}` },
  metadata: { filename: options.file.split("/").pop(), filetype: "application/octet-stream" },
  retryDelays: [0, 200, 1000],
  ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
  // "ietf-draft-03" / "ietf-draft-05": the IETF resumable-upload draft (interop 5 / 6).
  ...(options.protocol ? { protocol: options.protocol } : {}),
  ...(options.parallelUploads ? { parallelUploads: options.parallelUploads } : {}),
  ...(options.storage ? { urlStorage: new FileUrlStorage(options.storage) } : {}),
  onBeforeRequest(request) {
    say({
      event: "request",
      method: request.getMethod(),
      url: request.getURL(),
      offset: request.getHeader("Upload-Offset") ?? null,
      complete: request.getHeader("Upload-Complete") ?? null,
      concat: request.getHeader("Upload-Concat") ?? null,
    });
  },
  onAfterResponse(request, response) {
    const concat = request.getHeader("Upload-Concat") ?? "";
    if (options.loseFinalAnswer && !lostFinalAnswer && concat.startsWith("final;")) {
      lostFinalAnswer = true;
      say({ event: "lost", status: response.getStatus(), location: response.getHeader("Location") });
      throw new Error("the connection dropped before the answer arrived");
    }
  },
  onProgress(sent, total) {
    if (options.abortAt && !aborting && sent >= options.abortAt * total) {
      aborting = true;
      upload.abort().then(() => say({ event: "aborted", url: upload.url, sent }));
    }
  },
  onSuccess() {
    say({ event: "success", url: upload.url, size });
  },
  onError(error) {
    say({ event: "error", message: String(error) });
    process.exitCode = 1;
  },
});

if (options.resume) {
  const previous = await upload.findPreviousUploads();
  say({ event: "previous", urls: previous.map((p) => p.uploadUrl) });
  if (previous.length > 0) upload.resumeFromPreviousUpload(previous[0]);
}
upload.start();
