"""Feeds the bot offered as buttons: a button's data holds a short token, this maps it back.

A page can link feeds whose URLs do not fit in Telegram's 64 bytes of button data. Offers
live in memory: after a restart, or once many newer offers pushed one out, its button
answers that the offer expired.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

MAX_OFFERS = 256


@dataclass(frozen=True)
class Offer:
    chat_id: int
    url: str
    interval: float | None


class FeedOffers:
    def __init__(self, most: int = MAX_OFFERS) -> None:
        self._offers: dict[str, Offer] = {}
        self._most = most

    def put(self, offer: Offer) -> str:
        """A token for the offer (the same offer gets the same token)."""
        token = hashlib.sha256(f"{offer.chat_id}|{offer.url}".encode()).hexdigest()[:12]
        self._offers.pop(token, None)
        self._offers[token] = offer
        while len(self._offers) > self._most:
            del self._offers[next(iter(self._offers))]
        return token

    def get(self, token: str, chat_id: int) -> Offer | None:
        """The offer made to this chat under `token`, or None (expired, or another chat's)."""
        offer = self._offers.get(token)
        return offer if offer is not None and offer.chat_id == chat_id else None
