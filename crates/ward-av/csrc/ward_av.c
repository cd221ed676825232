/*
 * ward_av: the few libavformat/libavcodec calls ward's decoding worker makes, loaded with
 * dlopen when the worker starts, so that the ward binary neither links FFmpeg nor loads its
 * libraries (about 130 of them) on every start. The headers fix the structure layouts at
 * build time; the libraries loaded are those of the same major versions (their sonames).
 *
 * Only the worker process (`ward __av-worker`) calls this: a crash in a decoder takes down
 * that child, never the caller.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/pixdesc.h>

#define STR_(x) #x
#define STR(x) STR_(x)

#define SYMS(X)                                                                          \
  X(avutil, av_log_set_callback)                                                         \
  X(avutil, av_log_set_level)                                                            \
  X(avutil, av_log_format_line)                                                          \
  X(avutil, av_strerror)                                                                 \
  X(avutil, av_dict_set)                                                                 \
  X(avutil, av_dict_free)                                                                \
  X(avutil, av_frame_alloc)                                                              \
  X(avutil, av_frame_free)                                                               \
  X(avutil, av_frame_unref)                                                              \
  X(avutil, av_get_pix_fmt_name)                                                         \
  X(avcodec, avcodec_find_decoder)                                                       \
  X(avcodec, avcodec_alloc_context3)                                                     \
  X(avcodec, avcodec_parameters_to_context)                                              \
  X(avcodec, avcodec_open2)                                                              \
  X(avcodec, avcodec_send_packet)                                                        \
  X(avcodec, avcodec_receive_frame)                                                      \
  X(avcodec, avcodec_free_context)                                                       \
  X(avcodec, avcodec_get_name)                                                           \
  X(avcodec, av_packet_alloc)                                                            \
  X(avcodec, av_packet_free)                                                             \
  X(avcodec, av_packet_unref)                                                            \
  X(avformat, av_find_input_format)                                                      \
  X(avformat, avformat_open_input)                                                       \
  X(avformat, avformat_find_stream_info)                                                 \
  X(avformat, avformat_close_input)                                                      \
  X(avformat, av_read_frame)

#define DECLARE(lib, name) static __typeof__(&name) p_##name;
SYMS(DECLARE)

static int loaded;
static int partial_file;
static char last_error[512];

static void set_err(char *err, size_t n, const char *fmt, ...) {
  va_list ap;
  if (!err || !n) return;
  va_start(ap, fmt);
  vsnprintf(err, n, fmt, ap);
  va_end(ap);
}

/* Keeps the last error line instead of printing it, and notes a demuxer finding the file
 * shorter than its index says ("partial file"), which is how truncation shows. */
static void log_cb(void *avcl, int level, const char *fmt, va_list vl) {
  char line[512];
  int print = 1;
  if (level > AV_LOG_ERROR) return;
  p_av_log_format_line(avcl, level, fmt, vl, line, sizeof line, &print);
  if (strstr(line, "partial file")) partial_file = 1;
  size_t len = strlen(line);
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
  if (len) memcpy(last_error, line, len + 1);
}

int ward_av_load(char *err, size_t n) {
  static const char *names[3] = {
      "libavutil.so." STR(LIBAVUTIL_VERSION_MAJOR),
      "libavcodec.so." STR(LIBAVCODEC_VERSION_MAJOR),
      "libavformat.so." STR(LIBAVFORMAT_VERSION_MAJOR),
  };
  void *libs[3];
  if (loaded) return 0;
  for (int i = 0; i < 3; i++) {
    libs[i] = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!libs[i]) {
      set_err(err, n, "cannot load %s: %s", names[i], dlerror());
      return -1;
    }
  }
  void *avutil = libs[0], *avcodec = libs[1], *avformat = libs[2];
  (void)avutil;
  (void)avcodec;
  (void)avformat;
#define RESOLVE(lib, name)                                                                \
  p_##name = (__typeof__(p_##name))dlsym(lib, #name);                                    \
  if (!p_##name) {                                                                       \
    set_err(err, n, "%s has no %s", #lib, #name);                                        \
    return -1;                                                                           \
  }
  SYMS(RESOLVE)
  p_av_log_set_level(AV_LOG_ERROR);
  p_av_log_set_callback(log_cb);
  loaded = 1;
  return 0;
}

/* RLIMIT_DATA's soft limit for this process (the hard one stays): an allocation past it
 * fails inside the decoder, which reports it as an error. */
int ward_av_set_memory_limit(unsigned long long bytes) {
  struct rlimit r;
  if (getrlimit(RLIMIT_DATA, &r) != 0) return -1;
  r.rlim_cur = (r.rlim_max == RLIM_INFINITY || bytes < r.rlim_max) ? bytes : r.rlim_max;
  return setrlimit(RLIMIT_DATA, &r);
}

struct ward_av_info {
  int stream_index;
  int width;
  int height;
  int avg_num, avg_den;
  int r_num, r_den;
  int has_duration;
  double duration;
  long long nb_frames;
  int video_streams;
  char pix_fmt[32];
  char codec[32];
  char container[64];
  char kinds[128];
};

struct ward_av {
  AVFormatContext *fmt;
  AVCodecContext *dec;
  AVPacket *pkt;
  AVFrame *frame;
  int stream;
  int draining;
  char *url;
  char *demuxer;
  /* Skipping: the stream's presentation timestamps, sorted (a frame's decoded-frame index is
   * its rank among them), the hashing interval, the last index output. */
  int skip;
  int64_t *pts;
  size_t npts;
  long long interval;
  long long last;
};

static void error_text(int code, const char *what, char *err, size_t n) {
  char buf[128];
  if (p_av_strerror(code, buf, sizeof buf) < 0) snprintf(buf, sizeof buf, "error %d", code);
  if (last_error[0])
    set_err(err, n, "%s: %s (%s)", what, buf, last_error);
  else
    set_err(err, n, "%s: %s", what, buf);
}

void ward_av_close(struct ward_av *s) {
  if (!s) return;
  if (s->frame) p_av_frame_free(&s->frame);
  if (s->pkt) p_av_packet_free(&s->pkt);
  if (s->dec) p_avcodec_free_context(&s->dec);
  if (s->fmt) p_avformat_close_input(&s->fmt);
  free(s->pts);
  free(s->url);
  free(s->demuxer);
  free(s);
}

/*
 * Opens `url` (file: only) with the demuxer `demuxer` whitelisted, reads the stream facts
 * ffprobe would print, picks the first video stream that is not a cover picture and, unless
 * `probe_only`, opens its decoder with `threads` threads (0: as many as libavcodec likes).
 * Returns 0 and the stream (*out) or a negative code: -1 an error (err), -2 no video stream
 * (info->kinds lists what there is), -3 no decoder for the codec (info->codec).
 */
int ward_av_open(const char *url, const char *demuxer, int threads, int probe_only,
                 struct ward_av_info *info, struct ward_av **out, char *err, size_t n) {
  AVDictionary *opts = NULL;
  struct ward_av *s;
  int r;
  *out = NULL;
  memset(info, 0, sizeof *info);
  info->stream_index = -1;
  partial_file = 0;
  last_error[0] = 0;
  s = calloc(1, sizeof *s);
  if (!s) {
    set_err(err, n, "out of memory");
    return -1;
  }
  s->stream = -1;
  s->last = -1;
  s->url = strdup(url);
  s->demuxer = strdup(demuxer);
  if (!s->url || !s->demuxer) {
    set_err(err, n, "out of memory");
    ward_av_close(s);
    return -1;
  }
  p_av_dict_set(&opts, "protocol_whitelist", "file", 0);
  p_av_dict_set(&opts, "format_whitelist", demuxer, 0);
  r = p_avformat_open_input(&s->fmt, url, NULL, &opts);
  p_av_dict_free(&opts);
  if (r < 0) {
    error_text(r, "opening the file", err, n);
    ward_av_close(s);
    return -1;
  }
  r = p_avformat_find_stream_info(s->fmt, NULL);
  if (r < 0) {
    error_text(r, "reading the streams", err, n);
    ward_av_close(s);
    return -1;
  }
  snprintf(info->container, sizeof info->container, "%s",
           s->fmt->iformat && s->fmt->iformat->name ? s->fmt->iformat->name : "");
  size_t used = 0;
  for (unsigned i = 0; i < s->fmt->nb_streams; i++) {
    AVStream *st = s->fmt->streams[i];
    const char *kind;
    switch (st->codecpar->codec_type) {
    case AVMEDIA_TYPE_VIDEO: kind = "video"; break;
    case AVMEDIA_TYPE_AUDIO: kind = "audio"; break;
    case AVMEDIA_TYPE_SUBTITLE: kind = "subtitle"; break;
    case AVMEDIA_TYPE_DATA: kind = "data"; break;
    case AVMEDIA_TYPE_ATTACHMENT: kind = "attachment"; break;
    default: kind = "unknown"; break;
    }
    if (used + strlen(kind) + 2 < sizeof info->kinds)
      used += (size_t)snprintf(info->kinds + used, sizeof info->kinds - used, "%s%s",
                               used ? "," : "", kind);
    if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
      info->video_streams++;
      if (s->stream < 0 && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC)) s->stream = (int)i;
    }
  }
  if (s->stream < 0) {
    ward_av_close(s);
    return -2;
  }
  AVStream *st = s->fmt->streams[s->stream];
  AVCodecParameters *par = st->codecpar;
  info->stream_index = s->stream;
  info->width = par->width;
  info->height = par->height;
  info->avg_num = st->avg_frame_rate.num;
  info->avg_den = st->avg_frame_rate.den;
  info->r_num = st->r_frame_rate.num;
  info->r_den = st->r_frame_rate.den;
  if (st->duration != AV_NOPTS_VALUE) {
    info->has_duration = 1;
    info->duration = (double)st->duration * st->time_base.num / st->time_base.den;
  } else if (s->fmt->duration != AV_NOPTS_VALUE) {
    info->has_duration = 1;
    info->duration = (double)s->fmt->duration / AV_TIME_BASE;
  }
  info->nb_frames = st->nb_frames;
  const char *pf = par->format >= 0 ? p_av_get_pix_fmt_name((enum AVPixelFormat)par->format) : NULL;
  snprintf(info->pix_fmt, sizeof info->pix_fmt, "%s", pf ? pf : "");
  const char *cn = p_avcodec_get_name(par->codec_id);
  snprintf(info->codec, sizeof info->codec, "%s", cn ? cn : "");
  if (probe_only) {
    *out = s;
    return 0;
  }
  const AVCodec *codec = p_avcodec_find_decoder(par->codec_id);
  if (!codec) {
    ward_av_close(s);
    return -3;
  }
  s->dec = p_avcodec_alloc_context3(codec);
  s->pkt = p_av_packet_alloc();
  s->frame = p_av_frame_alloc();
  if (!s->dec || !s->pkt || !s->frame) {
    set_err(err, n, "out of memory");
    ward_av_close(s);
    return -1;
  }
  r = p_avcodec_parameters_to_context(s->dec, par);
  if (r >= 0) {
    s->dec->pkt_timebase = st->time_base;
    s->dec->thread_count = threads;
    r = p_avcodec_open2(s->dec, codec, NULL);
  }
  if (r < 0) {
    error_text(r, "opening the decoder", err, n);
    ward_av_close(s);
    return -1;
  }
  *out = s;
  return 0;
}

struct ward_av_frame {
  const unsigned char *data[3];
  int linesize[3];
  int width;
  int height;
  int format;
  /* The frame's decoded-frame index when skipping, else -1 (count the frames). */
  long long index;
};

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The rank of `pts` among the stream's timestamps, or -1. */
static long long rank_of(const struct ward_av *s, int64_t pts) {
  size_t lo = 0, hi = s->npts;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->pts[mid] < pts)
      lo = mid + 1;
    else
      hi = mid;
  }
  return (lo < s->npts && s->pts[lo] == pts) ? (long long)lo : -1;
}

/*
 * Lets the decoder skip the frames that nothing refers to and that are not hashed (every
 * `interval`-th decoded frame is): H.264 and HEVC in MP4/MOV or Matroska, one frame a packet,
 * decoded on one thread. A frame's decoded-frame index is then its presentation timestamp's
 * rank, which is exact when every packet has a distinct timestamp (checked here, on a
 * demuxing pass over the whole file) and the decoder outputs every packet's frame in
 * timestamp order (checked as frames come: see ward_av_next). Returns 1 when skipping is
 * on, 0 when the stream does not qualify (every frame is decoded), -1 on an error.
 */
int ward_av_skip_unhashed(struct ward_av *s, long long interval) {
  AVFormatContext *f = NULL;
  AVDictionary *opts = NULL;
  AVPacket *pkt;
  size_t cap = 0;
  int r;
  if (!s->dec || interval < 2 || s->dec->thread_count != 1) return 0;
  if (s->dec->codec_id != AV_CODEC_ID_H264 && s->dec->codec_id != AV_CODEC_ID_HEVC) return 0;
  if (strcmp(s->demuxer, "mov") != 0 && strcmp(s->demuxer, "matroska") != 0) return 0;
  p_av_dict_set(&opts, "protocol_whitelist", "file", 0);
  p_av_dict_set(&opts, "format_whitelist", s->demuxer, 0);
  r = p_avformat_open_input(&f, s->url, NULL, &opts);
  p_av_dict_free(&opts);
  if (r < 0) return 0;
  pkt = p_av_packet_alloc();
  int ok = pkt && f->nb_streams == s->fmt->nb_streams;
  while (ok && (r = p_av_read_frame(f, pkt)) >= 0) {
    if (pkt->stream_index == s->stream) {
      if (pkt->pts == AV_NOPTS_VALUE || (pkt->flags & AV_PKT_FLAG_DISCARD)) {
        ok = 0;
      } else {
        if (s->npts == cap) {
          size_t more = cap ? cap * 2 : 1024;
          int64_t *grown = realloc(s->pts, more * sizeof *grown);
          if (!grown) {
            ok = 0;
          } else {
            s->pts = grown;
            cap = more;
          }
        }
        if (ok) s->pts[s->npts++] = pkt->pts;
      }
    }
    p_av_packet_unref(pkt);
  }
  if (pkt) p_av_packet_free(&pkt);
  p_avformat_close_input(&f);
  if (ok && r != AVERROR_EOF) ok = 0;
  if (ok && s->npts) {
    qsort(s->pts, s->npts, sizeof *s->pts, cmp_i64);
    for (size_t i = 1; i < s->npts; i++)
      if (s->pts[i] == s->pts[i - 1]) ok = 0;
  }
  if (!ok || !s->npts) {
    free(s->pts);
    s->pts = NULL;
    s->npts = 0;
    return 0;
  }
  s->skip = 1;
  s->interval = interval;
  return 1;
}

/*
 * The next decoded frame of the stream, in the decoder's output order: 1 and `f` filled
 * (valid until the next call), 0 at the end, -1 on an error (err). Packets the decoder
 * rejects are skipped, as ffmpeg does; a read error ends the stream, as in ffmpeg.
 */
int ward_av_next(struct ward_av *s, struct ward_av_frame *f, char *err, size_t n) {
  int r;
  if (!s->dec) {
    set_err(err, n, "opened for probing only");
    return -1;
  }
  for (;;) {
    p_av_frame_unref(s->frame);
    r = p_avcodec_receive_frame(s->dec, s->frame);
    if (r == 0) {
      f->index = -1;
      if (s->skip) {
        /* Every frame output in timestamp order, none that is hashed missing, and no
         * decoding error (a frame the reference would have lost shifts its count). */
        long long k = s->frame->pts == AV_NOPTS_VALUE ? -1 : rank_of(s, s->frame->pts);
        long long next_hashed = s->last < 0 ? 0 : (s->last / s->interval + 1) * s->interval;
        if (k <= s->last || next_hashed < k || last_error[0]) {
          set_err(err, n, "frame timestamps out of line with the packets'");
          return -4;
        }
        s->last = k;
        f->index = k;
      }
      for (int i = 0; i < 3; i++) {
        f->data[i] = s->frame->data[i];
        f->linesize[i] = s->frame->linesize[i];
      }
      f->width = s->frame->width;
      f->height = s->frame->height;
      f->format = s->frame->format;
      return 1;
    }
    if (r == AVERROR_EOF) {
      if (s->skip) {
        long long next_hashed = s->last < 0 ? 0 : (s->last / s->interval + 1) * s->interval;
        if (next_hashed < (long long)s->npts || last_error[0]) {
          set_err(err, n, "a hashed frame was not output");
          return -4;
        }
      }
      return 0;
    }
    if (r != AVERROR(EAGAIN)) {
      if (r == AVERROR(ENOMEM)) {
        error_text(r, "decoding (Cannot allocate memory)", err, n);
        return -1;
      }
      /* A frame that failed to decode: go on with the next, as ffmpeg does. */
      continue;
    }
    if (s->draining) return 0;
    for (;;) {
      r = p_av_read_frame(s->fmt, s->pkt);
      if (r < 0) {
        if (r == AVERROR(ENOMEM)) {
          error_text(r, "reading (Cannot allocate memory)", err, n);
          return -1;
        }
        s->draining = 1;
        p_avcodec_send_packet(s->dec, NULL);
        break;
      }
      if (s->pkt->stream_index != s->stream) {
        p_av_packet_unref(s->pkt);
        continue;
      }
      if (s->skip) {
        long long k = s->pkt->pts == AV_NOPTS_VALUE ? -1 : rank_of(s, s->pkt->pts);
        if (k < 0) {
          p_av_packet_unref(s->pkt);
          set_err(err, n, "a packet the demuxing pass did not see");
          return -4;
        }
        s->dec->skip_frame = (k % s->interval) ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
      }
      r = p_avcodec_send_packet(s->dec, s->pkt);
      p_av_packet_unref(s->pkt);
      if (r == AVERROR(ENOMEM)) {
        error_text(r, "decoding (Cannot allocate memory)", err, n);
        return -1;
      }
      break;
    }
  }
}

int ward_av_partial_file(void) { return partial_file; }

/* The last error line libav logged, or "". */
const char *ward_av_last_error(void) { return last_error; }

int ward_av_yuv420p(void) { return AV_PIX_FMT_YUV420P; }
