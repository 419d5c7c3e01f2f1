"""An aiosmtpd handler that writes each message it accepts to a file, for tests:
    /usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c smtp_sink.FileSink DIR
(with this folder on PYTHONPATH). Each message becomes DIR/NNNN.json holding the envelope
(mail_from, rcpt_tos) and the message text, written to a temporary name and renamed, so a
reader never sees half a file."""
import json
import os


class FileSink:
    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.count = len([n for n in os.listdir(directory) if n.endswith(".json")])

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("FileSink needs one argument: the directory to write messages to")
        return cls(args[0])

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(self.directory, f"{self.count:04d}.json")
        record = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                  "content": envelope.content.decode("utf-8", "replace")
                  if isinstance(envelope.content, bytes) else envelope.content}
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"
