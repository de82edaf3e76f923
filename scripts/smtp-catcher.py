#!/usr/bin/python3
"""SMTP catcher of the Passerelle stack (started by scripts/stack.sh).

A real SMTP server (Debian's python3-aiosmtpd) that stores every message it receives in a Maildir, one file
per message under MAILDIR/new, and logs one line per message (sender, recipients, subject) on stdout.
It is aiosmtpd's own command line with its Mailbox handler, plus two things the stock handler lacks: the
Maildir's tmp/new/cur folders are (re)created before each delivery (the stock handler fails when MAILDIR
exists without them, or when a test removed them), and the log line.

Usage: smtp-catcher.py HOST:PORT MAILDIR
"""
import os
import sys
import time
from email.header import decode_header, make_header

from aiosmtpd.handlers import Mailbox
from aiosmtpd.main import main


class MaildirCatcher(Mailbox):
    def handle_message(self, message):
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(self.mail_dir, sub), exist_ok=True)
        super().handle_message(message)
        try:
            subject = str(make_header(decode_header(message.get("Subject", ""))))
        except Exception:  # a malformed header must not lose the message, only its log line
            subject = message.get("Subject", "")
        print(
            "%s from=%s to=%s subject=%r"
            % (time.strftime("%Y-%m-%dT%H:%M:%S%z"), message.get("X-MailFrom"), message.get("X-RcptTo"), subject),
            flush=True,
        )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    listen, maildir = sys.argv[1:]
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    # -n: no setuid to nobody (it could not write the Maildir); -u: accept SMTPUTF8.
    main(["-n", "-u", "-l", listen, "-c", "__main__.MaildirCatcher", maildir])
