"""Encoder-decoder with attention: bidirectional StackedRNN encoder, bridge, attentional decoder.

``forward`` returns a ``ModelOutput`` (loss, logits, state=None) like every model here
(nlprnn/models/output.py); ``generate`` decodes with greedy or beam search in one call.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nlprnn.models.config import keeps_init_kwargs
from nlprnn.models.output import Generated, ModelOutput
from nlprnn.modules.attention import Attention
from nlprnn.modules.beam_search import Hypothesis, beam_search
from nlprnn.modules.embedding import Embedding
from nlprnn.modules.loss import smoothed_cross_entropy
from nlprnn.modules.rnn import StackedRNN, State, as_lengths


class Seq2Seq(nn.Module):
    """Translates token ids to token ids (Luong et al. 2015 style global attention)::

        encoder: Embedding -> bidirectional StackedRNN            memory (B, S, 2*He)
        bridge:  tanh(W [h_fwd; h_bwd] of the top encoder layer)   decoder initial state
        decoder: StackedRNN over target embeddings -> attention over memory -> attentional vector
                 a_t = tanh(W_c [context_t; h_t]) -> logits = W_out a_t (W_out tied to the target
                 embedding when ``tie_embeddings``).

    Without ``input_feeding`` the decoder RNN sees only the target embeddings, so teacher-forced
    training runs it as ONE fused call over all steps and attention as one batched matmul. With
    ``input_feeding`` a_{t-1} is concatenated to the input at step t, which needs a loop over time.

    Args:
        src_vocab_size, tgt_vocab_size: V_s, V_t.
        emb_dim: E for both sides.
        encoder_hidden_size: He per direction; decoder ``hidden_size``: Hd.
        encoder_layers, decoder_layers: stacked layers of each side.
        cell: "lstm" | "gru" | "rnn".
        attention: "dot" | "general" | "bahdanau".
        input_feeding: feed a_{t-1} into the decoder input (loop over time when training).
        dropout: on embeddings, between layers, and on a_t.
        tie_embeddings: output layer shares the target embedding matrix (a_t then has size E).
        share_embeddings: source and target share one embedding (needs a joint vocabulary).
        pad_id: padding id of both vocabularies; bos_id, eos_id: the target's start and end ids
            (``generate``; the defaults are the subword tokenizer's).

    Calls::

        forward(src (B, S), lengths (B,), tgt_in (B, T), targets=(B, T))
            -> ModelOutput(loss, logits (B, T, V_t))
        encode(src, lengths) -> decoder state (a dict)
        step(tokens (N,), state) -> logits (N, V_t), state
        generate(src, lengths, beam_size=..., n_best=...) -> Generated(tokens (B, n_best, T), lengths, scores)

    Example:
        >>> import torch
        >>> model = Seq2Seq(20, 20, emb_dim=8, encoder_hidden_size=8, hidden_size=8).eval()
        >>> src = torch.randint(4, 20, (2, 6))
        >>> out = model(src, [6, 4], torch.randint(4, 20, (2, 5)))
        >>> out.logits.shape
        torch.Size([2, 5, 20])
        >>> found = model.generate(src, [6, 4], beam_size=3, n_best=2, max_len=7)
        >>> found.tokens.shape[:2], found.scores.shape
        (torch.Size([2, 2]), torch.Size([2, 2]))
    """

    @keeps_init_kwargs
    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        emb_dim: int = 256,
        encoder_hidden_size: int = 256,
        hidden_size: int = 256,
        encoder_layers: int = 1,
        decoder_layers: int = 1,
        cell: str = "gru",
        attention: str = "general",
        input_feeding: bool = False,
        dropout: float = 0.2,
        tie_embeddings: bool = True,
        share_embeddings: bool = False,
        pad_id: int = 0,
        bos_id: int = 2,
        eos_id: int = 3,
    ) -> None:
        super().__init__()
        if share_embeddings and src_vocab_size != tgt_vocab_size:
            raise ValueError("share_embeddings needs one joint vocabulary for source and target")
        self.cell, self.input_feeding, self.decoder_layers = cell, input_feeding, decoder_layers
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.tgt_embedding = Embedding(tgt_vocab_size, emb_dim, pad_id, dropout)
        self.src_embedding = (
            self.tgt_embedding if share_embeddings else Embedding(src_vocab_size, emb_dim, pad_id, dropout)
        )
        self.encoder = StackedRNN(
            emb_dim, encoder_hidden_size, encoder_layers, cell, bidirectional=True, dropout=dropout
        )
        memory_size = 2 * encoder_hidden_size
        self.bridge = nn.Linear(memory_size, decoder_layers * hidden_size)
        self.out_size = emb_dim if tie_embeddings else hidden_size
        dec_in = emb_dim + (self.out_size if input_feeding else 0)
        self.decoder = StackedRNN(dec_in, hidden_size, decoder_layers, cell, dropout=dropout)
        self.attention = Attention(attention, hidden_size, memory_size)
        self.combine = nn.Linear(memory_size + hidden_size, self.out_size)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(self.out_size, tgt_vocab_size)
        self.step_linears: nn.ModuleDict | None = None  # int8 copies for _feed_step (int8_steps)
        if tie_embeddings:
            # N(0, 1) rows would give logits of std ~sqrt(E) through the tied output layer
            nn.init.normal_(self.tgt_embedding.weight, std=emb_dim**-0.5)
            with torch.no_grad():
                self.tgt_embedding.weight[pad_id].zero_()
            self.output.weight = self.tgt_embedding.weight

    def fp32_modules(self) -> list[str]:
        """Modules an int8 copy must leave fp32, because their raw weights are read: under input
        feeding the decoder RNN is stepped by hand (``_feed_step``; ``int8_steps`` gives it int8
        copies); Bahdanau attention sums its ``v`` (``Attention.scores``)."""
        kept = ["decoder.rnn"] if self.input_feeding else []
        return kept + (["attention.v"] if self.attention.kind == "bahdanau" else [])

    def int8_steps(self, int8_linear) -> list[str]:
        """Under input feeding, int8 copies of the projections ``_feed_step`` computes from the
        decoder RNN's raw weights (``int8_linear(weight, bias)`` makes one layer); returns the
        modules of ``fp32_modules`` that decoding then computes in int8."""
        if not self.input_feeding:
            return []
        weight, bias = self.decoder.input_weights()
        emb = weight.size(1) - self.out_size  # the input is [e_t; a_{t-1}]
        parts = {"emb": int8_linear(weight[:, :emb], bias), "feed": int8_linear(weight[:, emb:], None)}
        self.step_linears = nn.ModuleDict(parts)
        self.decoder.int8_steps(int8_linear)
        return ["decoder.rnn"]

    # ---- encoder -----------------------------------------------------------------------------
    def encode(self, src: torch.Tensor, lengths: torch.Tensor | list[int]) -> dict:
        """src (B, S), lengths (B,) -> the decoder's initial state: memory (B, S, 2He), attention keys,
        mask (B, S), the bridged hidden state, and the input-feeding vector (zeros)."""
        lengths = as_lengths(lengths, src.device)
        memory, enc_state = self.encoder(self.src_embedding(src), lengths)
        h = enc_state[0] if isinstance(enc_state, tuple) else enc_state  # (Le*2, B, He)
        top = torch.cat([h[-2], h[-1]], dim=-1)  # last layer, forward and backward: (B, 2He)
        h0 = torch.tanh(self.bridge(top)).view(top.size(0), self.decoder_layers, -1).transpose(0, 1)
        hidden: State = (h0.contiguous(), torch.zeros_like(h0)) if self.cell == "lstm" else h0.contiguous()
        mask = torch.arange(src.size(1), device=src.device)[None, :] < lengths[:, None]
        feed = memory.new_zeros(src.size(0), self.out_size) if self.input_feeding else None
        return {
            "hidden": hidden,
            "memory": memory,
            "keys": self.attention.keys(memory),
            "mask": mask,
            "feed": feed,
        }

    # ---- decoder -----------------------------------------------------------------------------
    def _attend(self, dec_out: torch.Tensor, state: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """dec_out (N, T, Hd) -> attentional vectors a (N, T, out_size), weights (N, T, S).

        N may be B * K (K beams per sentence, sentence-major rows): the K beams of a sentence then
        query its memory together as K*T query positions, so memory is never copied per beam."""
        memory = state["memory"]
        n, t, _ = dec_out.shape
        query = dec_out.reshape(memory.size(0), -1, dec_out.size(-1))  # (B, K*T, Hd)
        context, weights = self.attention(query, memory, state["mask"], state["keys"])
        context, weights = context.reshape(n, t, -1), weights.reshape(n, t, -1)
        return torch.tanh(self.combine(torch.cat([context, dec_out], dim=-1))), weights

    def decode(self, tgt_in: torch.Tensor, state: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing: tgt_in (B, T) -> logits (B, T, V_t), attention weights (B, T, S)."""
        emb = self.tgt_embedding(tgt_in)
        if not self.input_feeding:
            dec_out, _ = self.decoder(emb, state=state["hidden"])  # one fused call over all T steps
            attn_vec, weights = self._attend(dec_out, state)
            return self.output(self.dropout(attn_vec)), weights
        projected = self._project_embeddings(emb)  # (B, T, G*Hd), all steps in one matmul
        outs, all_weights = [], []
        for t in range(tgt_in.size(1)):
            attn_vec, weights, state = self._feed_step(projected[:, t], state)
            outs.append(attn_vec)
            all_weights.append(weights)
        return self.output(self.dropout(torch.stack(outs, 1))), torch.stack(all_weights, 1)

    def _project_embeddings(self, emb: torch.Tensor) -> torch.Tensor:
        """The embedding part of the first decoder layer's input projection, W_e e + b_ih: the
        input is [e_t; a_{t-1}], and e_t is known for every step before the loop starts."""
        if self.step_linears is not None:
            return self.step_linears["emb"](emb)
        weight, bias = self.decoder.input_weights()
        return F.linear(emb, weight[:, : emb.size(-1)], bias)

    def _feed_step(self, projected: torch.Tensor, state: dict):
        """One input-feeding step from projected (B, G*Hd) -> a_t (B, out), weights (B, S), state."""
        if self.step_linears is not None:
            xw = projected + self.step_linears["feed"](state["feed"])
        else:
            weight, _ = self.decoder.input_weights()
            xw = projected + F.linear(state["feed"], weight[:, -self.out_size :])  # + W_a a_{t-1}
        dec_out, hidden = self.decoder.step_projected(xw, state["hidden"])
        attn_vec, weights = self._attend(dec_out.unsqueeze(1), state)
        attn_vec, weights = attn_vec.squeeze(1), weights.squeeze(1)
        return attn_vec, weights, {**state, "hidden": hidden, "feed": attn_vec}

    def forward(
        self,
        src: torch.Tensor,
        lengths: torch.Tensor | list[int],
        tgt_in: torch.Tensor,
        *,
        targets: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
    ) -> ModelOutput:
        """Teacher forcing: src (B, S), source lengths (B,), tgt_in (B, T) (bos + target) ->
        ModelOutput: logits (B, T, V_t), and with ``targets`` (B, T) (target + eos, padded with pad_id)
        the label-smoothed cross-entropy per real target token as the loss (training: DDP wraps
        ``forward``). No state is carried: ``state`` is None."""
        logits = self.decode(tgt_in, self.encode(src, lengths))[0]
        if targets is None:
            return ModelOutput(None, logits)
        loss = smoothed_cross_entropy(logits.flatten(0, 1), targets.flatten(), label_smoothing, self.pad_id)
        return ModelOutput(loss, logits)

    @torch.inference_mode()
    def generate(
        self,
        src: torch.Tensor,
        lengths: torch.Tensor | list[int],
        *,
        beam_size: int = 1,
        n_best: int = 1,
        max_len: int | torch.Tensor | None = None,
        length_penalty: float = 0.0,
    ) -> Generated:
        """Decode src (B, S) with source lengths (B,): greedy for ``beam_size`` 1 (beam search with one
        beam is exactly greedy decoding), else beam search (``nlprnn.modules.beam_search``), which
        returns the ``n_best`` best hypotheses of each sentence.

        max_len: an int or (B,) limit on generated tokens (None: 1.5 x source length + 5, the
        Translator's default). length_penalty: the GNMT alpha, hypotheses ranked by
        sum(log p) / ((5 + length) / 6) ** alpha (0: the plain sum). Dropout follows the module's
        mode: call ``.eval()`` first.
        -> Generated: tokens (B, n_best, T), lengths (B, n_best), scores (B, n_best), best first.
        """
        lengths = as_lengths(lengths, src.device)
        if max_len is None:
            max_len = (lengths.float() * 1.5).ceil().long() + 5
        bos = torch.full((src.size(0),), self.bos_id, dtype=torch.long, device=src.device)
        hypotheses = beam_search(
            self.step,
            bos,
            self.encode(src, lengths),
            max_len,
            beam_size,
            self.eos_id,
            self.reorder_state,
            alpha=length_penalty,
            n_best=n_best,
            select_sentences=self.select_sentences,
        )
        return self._padded(hypotheses, n_best, src.device)

    def _padded(self, hypotheses: list[list[Hypothesis]], n_best: int, device) -> Generated:
        """beam_search's per-sentence lists of (ids, score) -> tensors (missing ones: empty, -inf)."""
        batch = len(hypotheses)
        width = max((len(ids) for hyps in hypotheses for ids, _ in hyps), default=0)
        tokens = torch.full((batch, n_best, width), self.pad_id, dtype=torch.long)
        lengths = torch.zeros(batch, n_best, dtype=torch.long)
        scores = torch.full((batch, n_best), float("-inf"))
        for b, hyps in enumerate(hypotheses):
            for k, (ids, score) in enumerate(hyps):
                tokens[b, k, : len(ids)] = torch.tensor(ids, dtype=torch.long)
                lengths[b, k], scores[b, k] = len(ids), score
        return Generated(tokens.to(device), lengths.to(device), scores.to(device))

    def step(self, tokens: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        """The decoding interface: tokens (N,) -> logits (N, V_t); state["attn"] holds (N, S)."""
        emb = self.tgt_embedding(tokens)
        if self.input_feeding:
            attn_vec, weights, state = self._feed_step(self._project_embeddings(emb), state)
        else:
            dec_out, hidden = self.decoder(emb.unsqueeze(1), state=state["hidden"])
            attn_vec, weights = self._attend(dec_out, state)
            attn_vec, weights, state = attn_vec.squeeze(1), weights.squeeze(1), {**state, "hidden": hidden}
        return self.output(attn_vec), {**state, "attn": weights}

    @staticmethod
    def reorder_state(state: dict, index: torch.Tensor) -> dict:
        """Select rows (beams) of a decoder state: index (N,) long, sentence-major and each row
        taken from the same sentence (as beam search does). Only the per-beam parts move; the
        source memory, keys and mask stay one per sentence (see ``_attend``)."""
        hidden = state["hidden"]
        hidden = (
            tuple(h.index_select(1, index) for h in hidden)
            if isinstance(hidden, tuple)
            else hidden.index_select(1, index)
        )  # (L, N, H): batch is dim 1
        moved = {"hidden": hidden}
        for key in ("feed", "attn"):
            if state.get(key) is not None:
                moved[key] = state[key].index_select(0, index)
        return {**state, **moved}

    @staticmethod
    def select_sentences(state: dict, index: torch.Tensor) -> dict:
        """Keep the per-sentence parts (memory, keys, mask) of sentences ``index`` (N,) long: beam
        search drops finished sentences this way after selecting their beams with reorder_state."""
        return {**state, **{key: state[key].index_select(0, index) for key in ("memory", "keys", "mask")}}
