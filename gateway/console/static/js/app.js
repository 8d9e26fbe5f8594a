// The console page: wires the API key field, the status strip and the four panels.
import { setupKeyForm } from "./key.js";
import { setupStatus } from "./status.js";
import { setupRedact } from "./redact.js";
import { setupTranscribe } from "./transcribe.js";
import { setupVoice } from "./voice.js";
import { setupAsk } from "./ask.js";

setupKeyForm(document.getElementById("key-form"), document.getElementById("api-key"));
setupStatus();
setupRedact();
setupTranscribe();
setupVoice();
setupAsk();
document.body.dataset.ready = "true";
