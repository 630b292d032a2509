"""Task 11, machine translation (book §5.1.1): English number phrases -> French.

"The input already consists of a sequence of symbols in some language, and
the computer program must convert this into a sequence of symbols in another
language."  The corpus is made here (``_numbers.py``): every number from 0
to 9999 written in English and in French, split at random into training and
held-out phrases, so the test numbers were never seen.  French reorders and
recombines: "ninety-seven" is "quatre-vingt-dix-sept", "seventy-one" is
"soixante et onze", "two hundred" is "deux cents" but "two hundred and
five" is "deux cent cinq".

The model is an encoder-decoder with attention:

* the encoder, a bidirectional GRU over the embedded English tokens;
* the decoder, a GRU over the embedded French tokens, started from the
  encoder's final states;
* at each target position, scaled dot-product attention of the decoder's
  state over the encoder's states (padding masked out); the state and the
  attended context together predict the next French token.

It is trained by maximum likelihood with *teacher forcing*: the decoder reads
the true previous tokens, and the loss is the cross-entropy of every next
token (padding ignored), i.e. the NLL of p(french | english) = Π_t
p(y_t | y_<t, english).  Translations are decoded greedily and by beam
search.  The metrics are exact-match accuracy (the whole phrase right) and
corpus BLEU, next to a word-by-word baseline that translates each English
token by the French token it co-occurs with most (Dice coefficient over the
training pairs) and keeps the English order.

Weight noise (book §7.5): the example also trains the same model with
Gaussian noise on the recurrent weights (``WeightNoise`` on the decoder's
hidden-to-hidden matrix) and compares the two.

Run: ``python examples/tasks/translation.py``
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from _common import one_blas_thread
from _numbers import bleu, detokenize, english, french, tokens

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.regularization import WeightNoise

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ["<pad>", "<s>", "</s>"]
#: bars asserted by the gallery test: exact match of the small run, and its
#: margin in BLEU over the word-by-word baseline
SMALL_EXACT_BAR, SMALL_BLEU_MARGIN = 0.9, 0.45


class Vocabulary:
    """Token <-> id, with ids 0, 1, 2 for padding, start and end."""

    def __init__(self, phrases: list[list[str]]):
        words = sorted({w for p in phrases for w in p})
        self.words = SPECIALS + words
        self.ids = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, phrases: list[list[str]], bos: bool = False) -> np.ndarray:
        """A padded int64 matrix (n, longest + 1): each phrase, then </s> (and <s> first)."""
        rows = [([BOS] if bos else []) + [self.ids[w] for w in p] + [EOS] for p in phrases]
        out = np.full((len(rows), max(map(len, rows))), PAD, dtype=np.int64)
        for i, row in enumerate(rows):
            out[i, :len(row)] = row
        return out

    def decode(self, ids) -> list[str]:
        """The tokens up to the first </s> (or padding)."""
        words = []
        for i in ids:
            if i in (EOS, PAD):
                break
            words.append(self.words[i])
        return words


def corpus(seed: int, n_train: int, n_test: int):
    """Random disjoint training and held-out numbers, as token lists."""
    rng = np.random.default_rng(seed)
    numbers = rng.permutation(10000)
    train, test = numbers[:n_train], numbers[n_train:n_train + n_test]

    def pairs(ns):
        return [tokens(english(int(n))) for n in ns], [tokens(french(int(n))) for n in ns]

    return pairs(train), pairs(test)


class Translator(nn.Module):
    """Encoder-decoder GRUs with scaled dot-product attention (Luong-style, after the decoder)."""

    def __init__(self, n_source: int, n_target: int, embed: int = 32, hidden: int = 64,
                 weight_noise: float = 0.0):
        super().__init__()
        self.source_embedding = nn.Embedding(n_source, embed, padding_idx=PAD)
        self.target_embedding = nn.Embedding(n_target, embed, padding_idx=PAD)
        self.encoder = nn.GRU(embed, hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, hidden)
        decoder = nn.GRU(embed, hidden, batch_first=True)
        if weight_noise > 0:
            decoder = WeightNoise(decoder, std=weight_noise, names=["weight_hh_l0"])
        self.decoder = decoder
        self.keys = nn.Linear(2 * hidden, hidden)
        self.values = nn.Linear(2 * hidden, hidden)
        self.combine = nn.Linear(2 * hidden, hidden)
        self.out = nn.Linear(hidden, n_target)

    def encode(self, source: np.ndarray):
        """Encoder states as attention keys and values, the decoder's first state, the mask."""
        states, last = self.encoder(self.source_embedding(source))
        start = F.tanh(self.bridge(cr.concatenate([last[0], last[1]], axis=-1)))
        mask = (source != PAD)[:, None, :]  # (N, 1, S): True where a token may be attended
        return self.keys(states), self.values(states), start.reshape(1, *start.shape), mask

    def decode(self, previous: np.ndarray, state, memory):
        """Next-token logits (N, T, vocabulary) for the tokens ``previous`` (N, T)."""
        keys, values, _, mask = memory
        out, state = self.decoder(self.target_embedding(previous), state)
        context = F.scaled_dot_product_attention(out, keys, values, attn_mask=mask)
        hidden = F.tanh(self.combine(cr.concatenate([out, context], axis=-1)))
        return self.out(hidden), state

    def forward(self, source: np.ndarray, target_in: np.ndarray):
        memory = self.encode(source)
        logits, _ = self.decode(target_in, memory[2], memory)
        return logits


def train(model: Translator, source, target, epochs: int, seed: int, lr: float = 3e-3,
          batch_size: int = 64) -> list[float]:
    """Teacher forcing: the decoder reads <s> y_1 .. y_T and predicts y_1 .. y_T </s>."""
    target_in, target_out = target[:, :-1], target[:, 1:]
    opt = cr.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    losses = []
    model.train()
    for _ in range(epochs):
        total = 0.0
        for rows in np.array_split(rng.permutation(len(source)), len(source) // batch_size):
            logits = model(source[rows], target_in[rows])  # (N, T, V)
            loss = F.cross_entropy(logits.transpose(0, 2, 1), target_out[rows],
                                   ignore_index=PAD)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            total += float(loss.item()) * len(rows)
        losses.append(total / len(source))
    return losses


def _repeat(memory, k: int):
    keys, values, start, mask = memory
    return (keys[np.repeat(np.arange(keys.shape[0]), k)],
            values[np.repeat(np.arange(values.shape[0]), k)],
            start[:, np.repeat(np.arange(start.shape[1]), k)],
            np.repeat(mask, k, axis=0))


@cr.no_grad()
def beam_search(model: Translator, source: np.ndarray, beam: int = 1,
                max_len: int = 16) -> np.ndarray:
    """Best target ids (n, max_len) by beam search; ``beam=1`` is greedy decoding.

    Hypotheses are ranked by their summed log-probability; a finished one
    (it emitted </s>) keeps its score, and the best finished hypothesis per
    sentence wins, its score divided by its length so that short phrases are
    not favoured merely for having fewer factors.
    """
    model.eval()
    n = len(source)
    memory = _repeat(model.encode(source), beam)
    state = memory[2]
    tokens_so_far = np.full((n * beam, 1), BOS, dtype=np.int64)
    score = np.zeros((n, beam))
    score[:, 1:] = -np.inf  # all beams start as the same hypothesis
    done = np.zeros(n * beam, dtype=bool)
    length = np.zeros(n * beam)
    for _ in range(max_len):
        logits, state = model.decode(tokens_so_far[:, -1:], state, memory)
        logp = F.log_softmax(logits[:, -1], axis=-1).numpy().astype(np.float64)
        vocab = logp.shape[1]
        # a finished hypothesis continues only with padding, at no cost
        logp[done] = -np.inf
        logp[done, PAD] = 0.0
        total = (score.reshape(-1, 1) + logp).reshape(n, beam * vocab)
        best = np.argsort(-total, axis=1, kind="stable")[:, :beam]
        parent = (best // vocab) + beam * np.arange(n)[:, None]
        word = best % vocab
        score = np.take_along_axis(total, best, axis=1)
        parent, word = parent.ravel(), word.ravel()
        done, length = done[parent], length[parent]
        length = length + ~done
        done = done | (word == EOS)
        tokens_so_far = np.concatenate([tokens_so_far[parent], word[:, None]], axis=1)
        state = state[:, parent]
        if done.all():
            break
    final = np.where(done.reshape(n, beam), score / np.maximum(length, 1).reshape(n, beam),
                     -np.inf)
    final[~np.isfinite(final).any(axis=1), 0] = 0.0  # nothing finished: take the first beam
    pick = np.argmax(final, axis=1) + beam * np.arange(n)
    return tokens_so_far[pick, 1:]


def word_by_word(train_pairs, sentences: list[list[str]]) -> list[list[str]]:
    """The baseline: each English token -> its most associated French token, English order."""
    source, target = train_pairs
    count_e, count_f, count_ef = Counter(), Counter(), Counter()
    for e_sent, f_sent in zip(source, target):
        es, fs = set(e_sent), set(f_sent)
        count_e.update(es)
        count_f.update(fs)
        count_ef.update((e, f) for e in es for f in fs)
    table = {}
    for (e, f), c in count_ef.items():
        dice = 2 * c / (count_e[e] + count_f[f])
        if dice > table.get(e, ("", 0.0))[1]:
            table[e] = (f, dice)
    return [[table[w][0] for w in s if w in table] for s in sentences]


def evaluate(candidates: list[list[str]], references: list[list[str]]) -> dict:
    exact = float(np.mean([c == r for c, r in zip(candidates, references)]))
    return {"exact": exact, "bleu": bleu(candidates, references)}


def run(small: bool = False, seed: int = 0) -> dict:
    """Train with and without weight noise; compare decoders and the baseline.

    The full run learns from 300 phrases (3% of the numbers), where
    generalisation is the whole problem; the small run from 600 phrases in
    fewer epochs, so that it is quick and still clears its bars.
    """
    n_train, n_test, epochs = (600, 300, 15) if small else (300, 2000, 40)
    (src_tr, tgt_tr), (src_te, tgt_te) = corpus(seed, n_train, n_test)
    src_vocab, tgt_vocab = Vocabulary(src_tr + src_te), Vocabulary(tgt_tr + tgt_te)
    X, Y = src_vocab.encode(src_tr), tgt_vocab.encode(tgt_tr, bos=True)
    X_test = src_vocab.encode(src_te)

    def translate(model, beam):
        ids = beam_search(model, X_test, beam=beam, max_len=Y.shape[1] + 2)
        return [tgt_vocab.decode(row) for row in ids]

    results = {}
    with one_blas_thread():
        for name, noise in (("plain", 0.0), ("weight_noise", 0.05)):
            cr.manual_seed(seed)
            model = Translator(len(src_vocab), len(tgt_vocab), weight_noise=noise)
            losses = train(model, X, Y, epochs, seed)
            results[f"{name}_train_loss"] = losses[-1]
            for decoder, beam in (("greedy", 1), ("beam", 4)):
                scores = evaluate(translate(model, beam), tgt_te)
                results[f"{name}_{decoder}_exact"] = scores["exact"]
                results[f"{name}_{decoder}_bleu"] = scores["bleu"]
            if name == "plain":
                sample = translate(model, 4)[:3]
    baseline = evaluate(word_by_word((src_tr, tgt_tr), src_te), tgt_te)
    results["baseline_exact"], results["baseline_bleu"] = baseline["exact"], baseline["bleu"]
    rows = [(f"{name}, {decoder}", results[f"{name}_{decoder}_exact"],
             results[f"{name}_{decoder}_bleu"])
            for name in ("plain", "weight_noise") for decoder in ("greedy", "beam")]
    rows.append(("word-by-word baseline", results["baseline_exact"], results["baseline_bleu"]))
    print("== Translation, English -> French number phrases (held-out numbers)")
    print(f"   {'model':<28s} {'exact match':>11s} {'BLEU':>8s}")
    for label, exact, score in rows:
        print(f"   {label:<28s} {exact:11.4f} {score:8.4f}")
    for e, f in zip(src_te[:3], sample):
        print(f"  {detokenize(e)!r} -> {detokenize(f)!r}")
    return results


if __name__ == "__main__":
    run()
