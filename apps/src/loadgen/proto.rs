//! What goes over a connection: the request bytes, and how a response is recognised.
//!
//! - `echo` (default): a request is `--req-size` bytes of a fixed pattern; a response is the
//!   next `--resp-size` bytes received (for an echo server, the same size). Bytes are counted,
//!   never looked at, so the engine frees received mbufs without copying.
//! - `http`: a request is `GET PATH HTTP/1.1` with a Host header (keep-alive); a response is a
//!   status line and headers up to the blank line, then `Content-Length` bytes of body
//!   (chunked bodies are not supported). Parsing keeps a fixed 64-byte line prefix: no
//!   allocation per response.

/// The request/response format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// Fixed-size requests; responses of a fixed size (an echo server's).
    Echo,
    /// HTTP/1.1 GET with keep-alive; responses framed by Content-Length.
    Http,
}

/// The bytes of one request.
pub fn request(proto: Proto, req_size: usize, host: &str, path: &str) -> Vec<u8> {
    match proto {
        Proto::Echo => (0..req_size).map(|i| b'a' + (i % 26) as u8).collect(),
        Proto::Http => {
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: loadgen\r\n\r\n")
                .into_bytes()
        }
    }
}

/// Recognises responses in the received byte stream.
#[derive(Clone, Debug)]
pub enum Framer {
    /// Every `size` bytes is one response.
    Fixed {
        size: usize,
        acc: usize,
    },
    Http(HttpFramer),
}

impl Framer {
    pub fn new(proto: Proto, resp_size: usize) -> Framer {
        match proto {
            Proto::Echo => Framer::Fixed {
                size: resp_size.max(1),
                acc: 0,
            },
            Proto::Http => Framer::Http(HttpFramer::default()),
        }
    }

    /// Whether the framer must see the bytes (otherwise their count is enough).
    pub fn needs_bytes(&self) -> bool {
        matches!(self, Framer::Http(_))
    }

    /// `n` more bytes arrived (fixed framing only); returns the responses completed.
    #[inline]
    pub fn feed_len(&mut self, n: usize) -> u32 {
        match self {
            Framer::Fixed { size, acc } => {
                *acc += n;
                let done = *acc / *size;
                *acc %= *size;
                done as u32
            }
            Framer::Http(_) => 0,
        }
    }

    /// More bytes arrived; returns the responses completed.
    pub fn feed(&mut self, data: &[u8]) -> u32 {
        match self {
            Framer::Fixed { .. } => self.feed_len(data.len()),
            Framer::Http(h) => h.feed(data),
        }
    }

    /// Forgets a partial response (a new connection).
    pub fn reset(&mut self) {
        match self {
            Framer::Fixed { acc, .. } => *acc = 0,
            Framer::Http(h) => *h = HttpFramer::default(),
        }
    }

    /// Whether a response is partly received.
    pub fn partial(&self) -> bool {
        match self {
            Framer::Fixed { acc, .. } => *acc > 0,
            Framer::Http(h) => h.line_len > 0 || h.in_body || h.content_length.is_some(),
        }
    }
}

/// An HTTP/1.1 response framer (status line and headers, then a Content-Length body).
#[derive(Clone, Debug)]
pub struct HttpFramer {
    line: [u8; 64],
    line_len: usize,
    /// Bytes of the current line beyond the prefix kept.
    line_over: bool,
    content_length: Option<usize>,
    in_body: bool,
    body_left: usize,
}

impl Default for HttpFramer {
    fn default() -> Self {
        HttpFramer {
            line: [0; 64],
            line_len: 0,
            line_over: false,
            content_length: None,
            in_body: false,
            body_left: 0,
        }
    }
}

impl HttpFramer {
    fn feed(&mut self, mut data: &[u8]) -> u32 {
        let mut done = 0;
        while !data.is_empty() {
            if self.in_body {
                let take = self.body_left.min(data.len());
                self.body_left -= take;
                data = &data[take..];
                if self.body_left == 0 {
                    self.in_body = false;
                    done += 1;
                }
                continue;
            }
            let Some(nl) = data.iter().position(|&b| b == b'\n') else {
                self.keep(data);
                break;
            };
            self.keep(&data[..nl]);
            data = &data[nl + 1..];
            if self.end_of_line() {
                let len = self.content_length.take().unwrap_or(0);
                if len == 0 {
                    done += 1;
                } else {
                    self.in_body = true;
                    self.body_left = len;
                }
            }
        }
        done
    }

    fn keep(&mut self, part: &[u8]) {
        let room = self.line.len() - self.line_len;
        let n = room.min(part.len());
        self.line[self.line_len..self.line_len + n].copy_from_slice(&part[..n]);
        self.line_len += n;
        self.line_over |= part.len() > n;
    }

    /// Handles a complete header line; returns true at the blank line ending the head.
    fn end_of_line(&mut self) -> bool {
        let mut l = &self.line[..self.line_len];
        if l.last() == Some(&b'\r') {
            l = &l[..l.len() - 1];
        }
        let blank = l.is_empty() && !self.line_over;
        const CL: &[u8] = b"content-length:";
        if l.len() > CL.len() && l[..CL.len()].eq_ignore_ascii_case(CL) {
            let v = std::str::from_utf8(&l[CL.len()..]).unwrap_or("").trim();
            self.content_length = v.parse().ok();
        }
        self.line_len = 0;
        self.line_over = false;
        blank
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_framing_counts_whole_responses() {
        let mut f = Framer::new(Proto::Echo, 64);
        assert_eq!(f.feed_len(63), 0);
        assert_eq!(f.feed_len(1 + 128 + 10), 3);
        assert!(f.partial());
    }

    #[test]
    fn http_framing_splits_responses_anywhere() {
        let one = b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 5\r\n\r\nhello";
        let stream: Vec<u8> = one
            .iter()
            .chain(one.iter())
            .chain(one.iter())
            .copied()
            .collect();
        for cut in 1..stream.len() {
            let mut f = Framer::new(Proto::Http, 0);
            let n = f.feed(&stream[..cut]) + f.feed(&stream[cut..]);
            assert_eq!(n, 3, "cut at {cut}");
            assert!(!f.partial());
        }
    }

    #[test]
    fn http_without_body_is_one_response() {
        let mut f = Framer::new(Proto::Http, 0);
        assert_eq!(f.feed(b"HTTP/1.1 204 No Content\r\n\r\n"), 1);
    }
}
