"""Presidio's analyzer and anonymizer behind the REST endpoints LiteLLM's presidio guardrail
calls (/analyze, /anonymize), as Presidio's own Docker images serve them; stdlib HTTP only.

spaCy's trained English models are not on PyPI (they come from GitHub), so the analyzer runs on
a blank spaCy pipeline: every pattern recognizer (phone, e-mail, SSN, card, IBAN, IP, URL,
dates, ...) but no named-entity model (no PERSON or LOCATION from NER). That makes Presidio
faster than it is with en_core_web_lg, and weaker: the comparison favours the peer on speed.
argv: port.
"""

import json
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import spacy
from presidio_analyzer import AnalyzerEngine, RecognizerResult
from presidio_analyzer.nlp_engine import NlpEngineProvider
from presidio_anonymizer import AnonymizerEngine

blank = tempfile.mkdtemp(prefix="blank-en-")
spacy.blank("en").to_disk(blank)
provider = NlpEngineProvider(nlp_configuration={
    "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": blank}]})
analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
anonymizer = AnonymizerEngine()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, value):
        body = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply({"status": "ok"})

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path.startswith("/analyze"):
            results = analyzer.analyze(text=req.get("text", ""), language=req.get("language", "en"))
            self.reply([r.to_dict() for r in results])
        elif self.path.startswith("/anonymize"):
            found = [RecognizerResult(r["entity_type"], r["start"], r["end"], r["score"])
                     for r in req.get("analyzer_results", [])]
            out = anonymizer.anonymize(text=req.get("text", ""), analyzer_results=found)
            self.reply({"text": out.text, "items": [i.to_dict() for i in out.items]})
        else:
            self.reply({})


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()
