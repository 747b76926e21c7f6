//! Lexicon sentiment in both languages.

use switchboard_shards::routing::sentiment::score;

#[test]
fn scores_are_in_range_and_signed() {
    for text in [
        "",
        "hello",
        "谢谢你们,太好了",
        "骗子!!!退钱!!!",
        "FUCK THIS SCAM",
    ] {
        let s = score(text).score;
        assert!((-1.0..=1.0).contains(&s), "{text}: {s}");
    }
    assert!(score("谢谢,客服很满意").score > 0.3);
    assert!(score("thanks, that was really helpful").score > 0.3);
}

#[test]
fn angry_messages_are_strongly_negative() {
    for text in [
        "我要投诉你们",
        "你们这帮骗子",
        "REFUND NOW!!!",
        "this is a scam, I want my money back",
        "垃圾平台,再不退钱我就报警",
        "what the fuck is wrong with you",
        "I'm going to sue you",
    ] {
        let s = score(text);
        assert!(s.is_strongly_negative(), "{text}: {} {:?}", s.score, s.cues);
    }
}

#[test]
fn mild_complaints_are_negative_but_not_strong() {
    let s = score("refund now!!!");
    assert!(s.score < -0.3, "{}", s.score);
    let s = score("有点失望");
    assert!(s.score < 0.0 && !s.is_strongly_negative(), "{}", s.score);
}

#[test]
fn neutral_questions_are_neutral() {
    for text in [
        "how do I reset my password",
        "怎么开通大会员",
        "三连是什么意思",
        "What is an UP主?",
    ] {
        assert_eq!(score(text).score, 0.0, "{text}");
    }
}

#[test]
fn cues_explain_the_score() {
    let s = score("骗子!!");
    assert!(s.cues.contains(&"骗子"));
    assert!(s.cues.contains(&"!!"));
    assert!(score("WHY IS THIS BROKEN").cues.contains(&"CAPS"));
}
