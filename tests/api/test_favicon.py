"""The web UI's icon: an SVG at /favicon.svg that the page links, and /favicon.ico for clients that ask for that."""

from __future__ import annotations

from html.parser import HTMLParser
from xml.etree import ElementTree

TOKEN = "s3cret"
SVG = "{http://www.w3.org/2000/svg}svg"


class IconLinks(HTMLParser):
    """The (href, type) of every ``<link rel="icon">`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.icons: list[tuple[str | None, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "link" and "icon" in (attributes.get("rel") or "").split():
            self.icons.append((attributes.get("href"), attributes.get("type")))


async def test_the_page_links_an_svg_icon_that_is_served(api_client):
    async with api_client() as (client, _):
        page = await client.get("/")
        links = IconLinks()
        links.feed(page.text)
        assert links.icons == [("/favicon.svg", "image/svg+xml")]
        icon = await client.get("/favicon.svg")
        assert icon.status_code == 200
        assert icon.headers["content-type"] == "image/svg+xml"
        assert ElementTree.fromstring(icon.content).tag == SVG


async def test_favicon_ico_leads_to_the_icon_without_a_token(api_client):
    async with api_client(token=TOKEN) as (client, _):
        response = await client.get("/favicon.ico")
        assert response.status_code == 301
        assert response.headers["location"] == "/favicon.svg"
        followed = await client.get("/favicon.ico", follow_redirects=True)
        assert followed.status_code == 200
        assert followed.headers["content-type"] == "image/svg+xml"
        assert followed.content == (await client.get("/favicon.svg")).content
