"""What a report page may not do, as the report check reads it."""
from pg_irt_tools.report import Page


def read(html):
    page = Page()
    page.feed(html)
    return page


def test_scripts_and_remote_resources_reach_outside_the_page():
    page = read('<script>x()</script><img src="https://example.org/a.png">'
                '<link href="//cdn.example.org/s.css">')
    assert page.external == ["a <script>", "img src=https://example.org/a.png",
                             "link href=//cdn.example.org/s.css"]


def test_item_figures_count_their_svgs_and_curves():
    page = read('<section id="item-curves"><figure class="icc" data-item="7"><svg>'
                '<polyline/><path/></svg></figure></section>')
    assert page.sections == ["item-curves"]
    assert page.figures == {"7": [1, 2]}
    assert page.external == []
