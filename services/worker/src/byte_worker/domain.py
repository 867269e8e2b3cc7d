"""The worker's rules, without I/O: what an outgoing email looks like and which SMTP answers
are final."""

from __future__ import annotations

import html
import re
from email.message import EmailMessage
from email.utils import formatdate


def message_id_header(message_id: str) -> str:
    """RFC 5322 wants `<left@right>`; the workflow's ids may come bare."""
    bare = message_id.strip().removeprefix("<").removesuffix(">")
    return f"<{bare}>" if "@" in bare else f"<{bare}@byte.localhost>"


def text_to_html(text: str) -> str:
    """The HTML part of a plain-text body: paragraphs on blank lines, line breaks kept, every
    character escaped (a contact's name is not markup)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    body = "\n".join("<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>" for p in paragraphs)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f'<body style="font-family: sans-serif; line-height: 1.5">\n{body}\n</body></html>\n'
    )


def compose_email(
    *, sender: str, to: list[str], subject: str, text: str, html_body: str | None, message_id: str
) -> EmailMessage:
    """multipart/alternative: the plain text first, its HTML rendering second (clients show the
    last part they can), with the deterministic Message-ID so a resend is recognisable."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id_header(message_id)
    message.set_content(text)
    message.add_alternative(html_body if html_body is not None else text_to_html(text), subtype="html")
    return message


def is_permanent_smtp_refusal(code: int) -> bool:
    """5xx is the server's final answer (unknown mailbox, policy); 4xx asks to try again later."""
    return 500 <= code < 600
