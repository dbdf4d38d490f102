"""Linear-chain CRF decoding in NumPy: the best tag sequence (Viterbi) and the marginal probability
of each chosen tag (forward-backward).

The tagger's scores come out of one compiled TensorFlow call; decoding them here takes about
0.3 ms for a 10-token message with 157 tags, where TensorFlow's step-by-step loop
(`rasa.utils.tensorflow.crf`) added about 2 ms per message. Transitions follow that module:
`transitions[i, j]` scores tag i followed by tag j.
"""

from typing import Dict, Mapping, Optional, Tuple

import numpy as np


def viterbi(potentials: np.ndarray, transitions: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(length,) best tags of one message and (length,) the marginal probability of each.

    Scores are added in float32, as the Keras model and Rasa's TensorFlow decoder do (and three
    times faster than float64); marginals fall back to float64 if float32 cannot hold them.

    Args:
        potentials: (length, tags) unary scores of the message's tokens, padding cut off.
        transitions: (tags, tags) CRF transition scores.
    """
    length, num_tags = potentials.shape
    if length == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.float32)
    unary = np.asarray(potentials, np.float32)
    pair = np.asarray(transitions, np.float32)
    # Viterbi in log space; `incoming[j, i]` scores tag i followed by tag j, so that each row's
    # argmax runs over contiguous memory.
    incoming = np.ascontiguousarray(pair.T)
    best = unary[0]
    backpointers = np.zeros((length, num_tags), dtype=np.int64)
    rows = np.arange(num_tags)
    for t in range(1, length):
        candidates = incoming + best
        backpointers[t] = candidates.argmax(axis=1)
        best = candidates[rows, backpointers[t]] + unary[t]
    tags = np.empty(length, dtype=np.int64)
    tags[-1] = best.argmax()
    for t in range(length - 1, 0, -1):
        tags[t - 1] = backpointers[t, tags[t]]
    marginals = _marginals(unary, pair, tags)
    if not np.isfinite(marginals).all():
        marginals = _marginals(unary.astype(np.float64), pair.astype(np.float64), tags)
    return tags.astype(np.int32), marginals.astype(np.float32)


def _marginals(unary: np.ndarray, pair: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """Forward-backward in probability space, each step rescaled to sum 1 (the constant factors
    cancel when each step's marginals are normalised): the marginal probability of each tag."""
    length, num_tags = unary.shape
    pair_weights = np.exp(pair - pair.max())
    emissions = np.exp(unary - unary.max(axis=1, keepdims=True))
    alpha = np.empty((length, num_tags), unary.dtype)
    beta = np.ones((length, num_tags), unary.dtype)
    alpha[0] = emissions[0] / emissions[0].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(1, length):
            forward = (alpha[t - 1] @ pair_weights) * emissions[t]
            alpha[t] = forward / forward.sum()
        for t in range(length - 2, -1, -1):
            backward = pair_weights @ (emissions[t + 1] * beta[t + 1])
            beta[t] = backward / backward.sum()
        joint = alpha * beta
        steps = np.arange(length)
        return joint[steps, tags] / joint.sum(axis=1)


def softmax_decode(scores: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(length,) most likely tag of each token and its probability, from (length, tags) logits."""
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=-1, keepdims=True)
    return probabilities.argmax(axis=-1).astype(np.int32), probabilities.max(axis=-1)


def decode(
    scores: Mapping[str, np.ndarray],
    lengths: np.ndarray,
    transitions: Mapping[str, Optional[np.ndarray]],
) -> Dict[str, np.ndarray]:
    """`{head: (batch, time) tags, head + "_confidence": (batch, time)}`; 0 on padding.

    Heads with transitions decode whole sequences with the CRF, the others token by token.
    """
    decoded = {}
    for head, head_scores in scores.items():
        tags = np.zeros(head_scores.shape[:2], dtype=np.int32)
        confidences = np.zeros(head_scores.shape[:2], dtype=np.float32)
        for row, length in enumerate(lengths):
            if transitions.get(head) is not None:
                found = viterbi(head_scores[row, :length], transitions[head])
            else:
                found = softmax_decode(head_scores[row, :length])
            tags[row, :length], confidences[row, :length] = found
        decoded[head], decoded[f"{head}_confidence"] = tags, confidences
    return decoded
